"""The conda side of a lock: channels, virtual packages of the target, and py-rattler's solver."""
