"""Where attachment bytes go: a folder (in DATA_DIR unless BLOB_DIR says), or an
S3-compatible bucket once S3_BUCKET is set; the banner says which."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from gemini_clone.adapters.blobs import LocalFolderBlobStore
from gemini_clone.adapters.blobs.s3 import S3BlobStore
from gemini_clone.adapters.imaging import PillowImageCheck
from gemini_clone.entrypoints.adapter_choices import make_blob_store, make_image_check
from gemini_clone.entrypoints.cli.banner import banner
from gemini_clone.entrypoints.settings import Settings, SettingsError, load_settings

POSTGRES = {"DATABASE_URL": "postgresql://db.internal/app", "JWT_SECRET": "s" * 40}


def settings(**environ: str) -> Settings:
    return load_settings(environ, env_file=None)


def attachments_line(text: str) -> str:
    return next(line for line in text.splitlines() if "attachments" in line)


def test_embedded_mode_keeps_attachments_in_the_data_folder() -> None:
    chosen = settings(DATA_DIR="/srv/data")

    assert chosen.blob_folder == Path("/srv/data/blobs")
    assert isinstance(make_blob_store(chosen), LocalFolderBlobStore)
    assert "folder /srv/data/blobs" in attachments_line(banner(chosen, "http://h:1"))
    assert "S3_BUCKET" in attachments_line(banner(chosen, "http://h:1"))


def test_blob_dir_names_another_folder() -> None:
    assert settings(BLOB_DIR="/mnt/shared/blobs").blob_folder == Path("/mnt/shared/blobs")


def test_a_bucket_chooses_the_s3_store_and_the_banner_names_it() -> None:
    chosen = settings(S3_BUCKET="chat-files", S3_ENDPOINT_URL="http://minio.internal:9000")

    assert isinstance(make_blob_store(chosen), S3BlobStore)
    line = attachments_line(banner(chosen, "http://h:1"))
    assert "S3 bucket chat-files at http://minio.internal:9000" in line


def test_an_endpoint_that_is_no_http_url_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="S3_ENDPOINT_URL"):
        settings(S3_BUCKET="chat-files", S3_ENDPOINT_URL="minio.internal:9000")


def test_a_folder_outside_embedded_mode_is_warned_of(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gemini_clone.container"):
        make_blob_store(settings(**POSTGRES))

    assert "every API and worker process must share it" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gemini_clone.container"):
        make_blob_store(settings())
    assert caplog.text == ""


def test_the_image_pixel_limit_is_a_setting() -> None:
    assert isinstance(make_image_check(settings(IMAGE_MAX_PIXELS="1000")), PillowImageCheck)
    with pytest.raises(SettingsError, match="IMAGE_MAX_PIXELS"):
        settings(IMAGE_MAX_PIXELS="0")


def test_a_process_on_the_folder_loads_neither_the_s3_client_nor_pillow() -> None:
    program = (
        "import sys\n"
        "from gemini_clone.entrypoints.adapter_choices import make_blob_store\n"
        "from gemini_clone.entrypoints.settings import load_settings\n"
        "make_blob_store(load_settings({}, env_file=None))\n"
        "print(sorted({'obstore', 'PIL'} & set(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == "[]"
