"""Package index access: pip configuration, simple pages, wheel metadata, disk cache."""

from .cache import Cache
from .client import DistMetadata, Index
from .config import IndexConfig, read_pip_config
from .simple import DistFile

__all__ = ["Cache", "DistFile", "DistMetadata", "Index", "IndexConfig", "read_pip_config"]
