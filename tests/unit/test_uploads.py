"""A stored upload is read back only from inside the upload folder (evidence, photos, notices)."""
from fleetops.platform.uploads import stored_file


def test_a_stored_file_is_found_and_nothing_outside_the_folder_is(tmp_path):
    uploads = tmp_path / "uploads"
    (uploads / "evidence").mkdir(parents=True)
    (uploads / "evidence" / "a.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "secret.txt").write_text("no")
    assert stored_file(str(uploads), "evidence/a.jpg") == (uploads / "evidence" / "a.jpg").resolve()
    assert stored_file(str(uploads), "../secret.txt") is None  # path traversal
    assert stored_file(str(uploads), "evidence/missing.jpg") is None
    assert stored_file(str(uploads), "evidence") is None  # a folder is not a file
    assert stored_file(str(uploads), "") is None and stored_file(str(uploads), None) is None
