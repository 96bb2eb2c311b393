"""Documents rendered from known text by real tools (LibreOffice, python-hwpx, onett's HWP 5 writer), for the
extraction tests and bench/extraction_quality.py."""
