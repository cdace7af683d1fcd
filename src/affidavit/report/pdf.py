"""The HTML page laid out as a PDF by WeasyPrint (the ``affidavit[report]`` extra), never
reaching the network or the disk for a resource."""

from __future__ import annotations

from pathlib import Path

from affidavit.errors import InputError


def render_pdf(page: str, path: Path) -> None:
    """Lay ``page`` out as a PDF at ``path`` with WeasyPrint (the ``affidavit[report]`` extra)."""
    try:
        import weasyprint  # type: ignore[import-untyped]
    except (ImportError, OSError) as e:  # OSError: WeasyPrint found no Pango library
        raise InputError(
            "the PDF needs the affidavit[report] extra (pip install 'affidavit[report]') and "
            f"the Pango library; or pass --no-pdf ({type(e).__name__}: {e})"
        ) from e
    # The page is self-contained by construction, and laying it out must never reach the
    # network or the disk: only data: URLs are fetched, anything else stops the PDF.
    # WeasyPrint 66+ takes a URLFetcher; older releases take a function.
    fetcher_class = getattr(weasyprint, "URLFetcher", None)
    fetcher: object = (
        _refuse
        if fetcher_class is None
        else fetcher_class(allowed_protocols=("data",), fail_on_errors=True)
    )
    fatal = getattr(getattr(weasyprint, "urls", None), "FatalURLFetchingError", None)
    try:
        weasyprint.HTML(string=page, url_fetcher=fetcher).write_pdf(str(path))
    except BaseException as e:  # FatalURLFetchingError is a BaseException
        if fatal is None or not isinstance(e, fatal):
            raise
        raise InputError(f"the report page refers to an outside resource: {e}") from e


def _refuse(url: str, *args: object, **kwargs: object) -> dict[str, object]:
    if url.startswith("data:"):
        from weasyprint import default_url_fetcher

        return default_url_fetcher(url)  # type: ignore[no-any-return]
    raise InputError(f"the report page refers to {url!r}; it must be self-contained")
