"""Which files are photos, by extension: what a scan indexes and filters name. Apart from the
decoders (lucida.media), so that search, which only names formats, does not load them."""

RAW_EXTENSIONS = frozenset({".nef", ".cr2", ".cr3", ".arw", ".dng", ".raf", ".orf", ".rw2"})
SUPPORTED_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif"}
) | RAW_EXTENSIONS
