"""A PEP 517 build backend for the cowguard helper, standard library only.

build_wheel makes cowguard-VERSION-py3-none-any.whl holding cowguard.py and
its .dist-info; build_sdist makes cowguard-VERSION.tar.gz of what the wheel
is built from. VERSION is cowguard.py's __version__. Both archives carry
fixed timestamps, so the same source gives the same bytes.
"""

import base64
import gzip
import hashlib
import io
import os
import re
import tarfile
import zipfile

NAME = "cowguard"
SUMMARY = "Keep read-only data shared across fork, and see who copies it (cowguard's Python helper)"
DESCRIPTION = """\
The Python helper of cowguard: mark what forked workers only read
(cowguard.readonly()), and get one report for the whole process tree of
what stayed shared, what each worker copied, and the Python lines that
wrote it.

It needs cowguard's library, libcowguard.so, installed ('make install' from
cowguard's source tree, or its Debian package) or built (a build tree's
tools/ on PATH). Import it first thing in the main script and it starts the
program again with the library preloaded, or run the program under the
launcher: cowguard --python -- python3 program.py
"""
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What an sdist holds, relative to the directory of pyproject.toml.
SDIST_FILES = ["pyproject.toml", "cowguard.py", "build-backend/cowguard_backend.py"]
# 1980-01-01, the earliest time a zip entry can hold.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _version():
    with open(os.path.join(HERE, "cowguard.py"), encoding="utf-8") as f:
        found = re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M)
    if not found:
        raise RuntimeError("cowguard.py has no __version__ line")
    return found.group(1)


def _metadata(version):
    return ("Metadata-Version: 2.1\n"
            "Name: %s\n"
            "Version: %s\n"
            "Summary: %s\n"
            "License: MIT\n"
            "Requires-Python: >=3.7\n"
            "Platform: Linux\n"
            "Description-Content-Type: text/plain\n"
            "\n%s" % (NAME, version, SUMMARY, DESCRIPTION))


def _wheel_file():
    return "Wheel-Version: 1.0\nGenerator: cowguard_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return "%s,sha256=%s,%d\n" % (path, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    version = _version()
    dist_info = "%s-%s.dist-info" % (NAME, version)
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    for name, text in (("METADATA", _metadata(version)), ("WHEEL", _wheel_file())):
        with open(os.path.join(metadata_directory, dist_info, name), "w", encoding="utf-8") as f:
            f.write(text)
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    dist_info = "%s-%s.dist-info" % (NAME, version)
    with open(os.path.join(HERE, "cowguard.py"), "rb") as f:
        module = f.read()
    entries = [("cowguard.py", module),
               (dist_info + "/METADATA", _metadata(version).encode("utf-8")),
               (dist_info + "/WHEEL", _wheel_file().encode("utf-8"))]
    record = "".join(_record_line(path, data) for path, data in entries) + dist_info + "/RECORD,,\n"
    entries.append((dist_info + "/RECORD", record.encode("utf-8")))
    filename = "%s-%s-py3-none-any.whl" % (NAME, version)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as whl:
        for path, data in entries:
            info = zipfile.ZipInfo(path, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(info, data)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    top = "%s-%s" % (NAME, version)
    filename = top + ".tar.gz"

    def add(tar, path, data):
        info = tarfile.TarInfo(top + "/" + path)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = 315532800  # FIXED_TIME as seconds since the epoch
        tar.addfile(info, io.BytesIO(data))

    # gzip's own header has a time too: fixed, with no file name.
    with open(os.path.join(sdist_directory, filename), "wb") as out, \
            gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=315532800) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "PKG-INFO", _metadata(version).encode("utf-8"))
        for path in SDIST_FILES:
            with open(os.path.join(HERE, path), "rb") as f:
                add(tar, path, f.read())
    return filename
