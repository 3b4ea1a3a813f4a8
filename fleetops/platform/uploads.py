"""Files people uploaded (evidence, photos, notices), read back by their path relative to the upload folder."""
from pathlib import Path


def stored_file(upload_dir: str, rel: str | None) -> Path | None:
    """The stored file at `rel`, only when it lies inside `upload_dir` and exists (no path traversal)."""
    if not rel:
        return None
    root = Path(upload_dir).resolve()
    path = (root / rel).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path
