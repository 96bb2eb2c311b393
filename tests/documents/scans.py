"""Image-only PDFs, as a scanner makes them: the pages of a rendered document turned into pictures with PDFium."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium


def image_only_pdf(source: Path, path: Path, pages: int = 2) -> Path:
    """`pages` pages, each a picture of the first page of `source`, and no text layer."""
    picture = pdfium.PdfDocument(str(source))[0].render(scale=1)
    scan = pdfium.PdfDocument.new()
    for _ in range(pages):
        page = scan.new_page(595, 842)
        image = pdfium.PdfImage.new(scan)
        image.set_bitmap(picture)
        image.set_matrix(pdfium.PdfMatrix().scale(595, 842))
        page.insert_obj(image)
        page.gen_content()
    scan.save(str(path))
    return path
