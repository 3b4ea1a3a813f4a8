"""A full upload folder (a 256 KB tmpfs mounted for the test): the import page says so in words (no 500),
leaves no partial file, logs a line, and works again once space is freed."""
import errno
import io
import logging
import os
import subprocess

import pytest

from tests.conftest import login
from tests.inventory_helpers import csv_bytes, device_row


@pytest.fixture
def tiny_upload_dir(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a size-limited tmpfs as the upload folder")
    folder = tmp_path / "uploads"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder):
    (folder / "inventory").mkdir(exist_ok=True)
    fd = os.open(folder / "filler.bin", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as err:
        assert err.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_a_full_upload_folder_is_a_message_not_a_500_and_leaves_nothing_behind(make_app, users, tiny_upload_dir,
                                                                                caplog):
    app = make_app(UPLOAD_DIR=str(tiny_upload_dir))
    client = login(app.test_client(), "supervisor")
    rows = [device_row(f"K105-CAM{i}", "卡口相机", f"10.65.1.{i + 10}")
            for i in range(8)]
    data = csv_bytes(rows)
    fill(tiny_upload_dir)
    with caplog.at_level(logging.ERROR, logger="fleetops.services.inventory.uploads"):
        resp = client.post("/inventory/import", data={"file": (io.BytesIO(data), "清单.csv")},
                           content_type="multipart/form-data", headers={"Accept-Language": "en"},
                           follow_redirects=True)
    assert resp.status_code < 500
    page = resp.get_data(as_text=True)
    assert "could not keep the uploaded file" in page or "无法保存上传的文件" in page
    assert "inventory upload not kept" in caplog.text and "free space" in caplog.text
    assert list((tiny_upload_dir / "inventory").iterdir()) == []  # no partial file

    (tiny_upload_dir / "filler.bin").unlink()
    resp = client.post("/inventory/import", data={"file": (io.BytesIO(data), "清单.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert len(list((tiny_upload_dir / "inventory").iterdir())) == 1
