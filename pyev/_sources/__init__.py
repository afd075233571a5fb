"""Internal event sources: the kernel mechanisms behind Async, Signal,
Child and Stat, each with a native form and a portable fallback."""
