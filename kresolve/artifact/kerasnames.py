"""Names Keras itself defines (Keras 1, Keras 2 / tf.keras, Keras 3).

Configs written before Keras 2.13 record only a `class_name`, not the module it came from, so the
only way to tell a custom class from a built-in one is to know the built-ins. The lists are
deliberately generous (aliases and classes of every Keras line): a class missing here would be
reported as a custom object, which is the safe mistake.
"""

from __future__ import annotations

_LAYERS = ["Layer", "InputLayer", "Input", "InputSpec", "Sequential", "Model", "Functional", "Network", "Container", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Permute", "RepeatVector", "Lambda", "ActivityRegularization", "Masking", "Highway", "MaxoutDense", "TimeDistributedDense", "Merge", "Identity", "EinsumDense", "Embedding", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Convolution1D", "Convolution2D", "Convolution3D", "AtrousConvolution1D", "AtrousConvolution2D", "SeparableConvolution2D", "Deconvolution2D", "Deconvolution3D", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution2DTranspose", "Convolution3DTranspose", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "DepthwiseConv1D", "DepthwiseConv2D", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "LocallyConnected1D", "LocallyConnected2D", "SimpleRNN", "GRU", "LSTM", "RNN", "GRUV1", "GRUV2", "LSTMV1", "LSTMV2", "SimpleRNNCell", "GRUCell", "LSTMCell", "GRUCellV2", "LSTMCellV2", "StackedRNNCells", "PeepholeLSTMCell", "AbstractRNNCell", "CuDNNGRU", "CuDNNLSTM", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "ConvRNN1D", "ConvRNN2D", "ConvRNN3D", "ConvLSTM2DCell", "TimeDistributed", "Bidirectional", "Wrapper", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "ReLU", "ELU", "LeakyReLU", "PReLU", "ThresholdedReLU", "Softmax", "ParametricSoftplus", "SReLU", "BatchNormalization", "BatchNormalizationV1", "BatchNormalizationV2", "SyncBatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization", "RMSNormalization", "SpectralNormalization", "Attention", "AdditiveAttention", "MultiHeadAttention", "GroupQueryAttention", "GroupedQueryAttention", "TextVectorization", "Normalization", "Discretization", "CategoryEncoding", "Hashing", "HashedCrossing", "StringLookup", "IntegerLookup", "Resizing", "Rescaling", "CenterCrop", "RandomCrop", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness", "RandomHeight", "RandomWidth", "RandomFourierFeatures", "AutoContrast", "Equalization", "MixUp", "CutMix", "AugMix", "RandAugment", "RandomColorDegeneration", "RandomColorJitter", "RandomGrayscale", "RandomHue", "RandomPosterization", "RandomSaturation", "RandomSharpness", "RandomShear", "RandomErasing", "RandomGaussianBlur", "RandomInvert", "RandomPerspective", "RandomElasticTransform", "RandomResizedCrop", "Solarization", "MaxNumBoundingBoxes", "STFTSpectrogram", "MelSpectrogram", "Pipeline", "TorchModuleWrapper", "JaxLayer", "FlaxLayer", "TFSMLayer", "TFOpLambda", "SlicingOpLambda", "TensorFlowOpLayer", "InstanceProperty", "InstanceMethod", "ClassMethod", "DenseFeatures", "LinearModel", "WideDeepModel", "SharpnessAwareMinimization"]

_INITIALIZERS = ["Initializer", "Zeros", "Zero", "Ones", "One", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling", "Orthogonal", "Identity", "IdentityInitializer", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "OrthogonalInitializer", "STFT", "STFTInitializer", "ConstantV2", "ZerosV2", "OnesV2", "RandomNormalV2", "RandomUniformV2", "TruncatedNormalV2", "VarianceScalingV2", "OrthogonalV2", "IdentityV2", "GlorotNormalV2", "GlorotUniformV2", "HeNormalV2", "HeUniformV2", "LecunNormalV2", "LecunUniformV2"]

_REGULARIZERS_CONSTRAINTS = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "L1L2Regularizer", "Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "RadialConstraint", "maxnorm", "nonneg", "unitnorm"]

_OPTIMIZERS = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam", "Ftrl", "AdamW", "Adafactor", "Lion", "Lamb", "Muon", "LossScaleOptimizer", "LossScaleOptimizerV3", "TFOptimizer", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts", "LearningRateSchedule"]

_LOSSES_METRICS = ["Loss", "LossFunctionWrapper", "Reduction", "BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy", "CategoricalFocalCrossentropy", "CategoricalHinge", "CosineSimilarity", "Hinge", "Huber", "KLDivergence", "LogCosh", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError", "MeanSquaredLogarithmicError", "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge", "Tversky", "Dice", "CTC", "Circle", "CategoricalGeneralizedCrossEntropy", "Metric", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "AUC", "Precision", "Recall", "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity", "SpecificityAtSensitivity", "FalsePositives", "FalseNegatives", "TruePositives", "TrueNegatives", "Mean", "Sum", "MeanMetricWrapper", "MeanTensor", "MeanIoU", "IoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU", "MeanRelativeError", "RootMeanSquaredError", "LogCoshError", "F1Score", "FBetaScore", "R2Score", "SumOverBatchSize", "SumOverBatchSizeMetricWrapper", "ConcordanceCorrelation", "PearsonCorrelation"]

_OTHER = ["Policy", "DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy", "DTypePolicyMap", "GPTQDTypePolicy", "PolicyV1", "TensorShape", "TensorSpec", "RaggedTensorSpec", "SparseTensorSpec", "TypeSpec", "KerasTensor", "SeedGenerator"]

KNOWN_CLASSES = frozenset(
    _LAYERS + _INITIALIZERS + _REGULARIZERS_CONSTRAINTS + _OPTIMIZERS + _LOSSES_METRICS + _OTHER
)

OPTIMIZERS = frozenset(_OPTIMIZERS)

# Classes that hold other layers in their config (nested models).
MODEL_CLASSES = frozenset({"Sequential", "Model", "Functional", "Network", "Container"})

# String-named losses/metrics/activations Keras resolves itself (any line, any alias).
KNOWN_FUNCTION_NAMES = frozenset(
    ["mse", "mae", "mape", "msle", "MSE", "MAE", "MAPE", "MSLE", "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "squared_hinge", "hinge", "categorical_hinge", "logcosh", "log_cosh", "huber", "huber_loss", "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy", "binary_focal_crossentropy", "categorical_focal_crossentropy", "kullback_leibler_divergence", "kld", "KLD", "kl_divergence", "poisson", "cosine_proximity", "cosine", "cosine_similarity", "ctc", "dice", "tversky", "circle", "accuracy", "acc", "crossentropy", "ce", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mean_iou", "auc", "precision", "recall", "relu", "relu6", "sigmoid", "softmax", "linear", "tanh", "elu", "selu", "softplus", "softsign", "hard_sigmoid", "exponential", "swish", "silu", "gelu", "mish", "log_softmax", "leaky_relu", "hard_silu", "hard_swish", "celu", "glu", "hard_tanh", "hard_shrink", "soft_shrink", "tanh_shrink", "sparse_plus", "sparsemax", "squareplus", "log_sigmoid", "threshold", "sparse_sigmoid"]
)

# Module prefixes whose classes ship with Keras itself (Keras >= 2.13 records `module`).
KERAS_MODULE_PREFIXES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras")


def is_keras_module(module: str) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in KERAS_MODULE_PREFIXES)
