"""The photo ZIP: matching by file name, and refusing what is broken or hostile."""

import io
import zipfile

import pytest

from portal.sheets.photo_archive import PhotoArchive, PhotoArchiveError
from tests.fixtures.sheets import lying_zip, photo, zip_bomb, zip_bytes


def test_finds_photos_in_any_folder_case_insensitively():
    face = photo()
    archive = PhotoArchive(zip_bytes({"Export/Photos/IVANOV.JPG": face, "petrov.png": b"p"}))
    assert archive.find("ivanov.jpg") == face
    assert archive.find("export/photos/Ivanov.jpg") == face
    assert archive.resolve("Ivanov.Jpg") == "Export/Photos/IVANOV.JPG"
    assert archive.find("PETROV.PNG") == b"p"
    assert archive.find("sidorov.jpg") is None
    assert archive.find("") is None


def test_name_without_extension_matches_a_single_photo():
    archive = PhotoArchive(
        zip_bytes({"a/ivanov.jpeg": b"i", "petrov.jpg": b"1", "petrov.png": b"2"})
    )
    assert archive.find("Ivanov") == b"i"
    with pytest.raises(PhotoArchiveError, match="Several files .* 'petrov'"):
        archive.find("petrov")


def test_same_name_in_two_folders_is_ambiguous_unless_the_folder_is_given():
    archive = PhotoArchive(zip_bytes({"day1/anna.jpg": b"1", "day2/anna.jpg": b"2"}))
    with pytest.raises(PhotoArchiveError, match="Several files in the photo archive match"):
        archive.find("anna.jpg")
    assert archive.find("day2/ANNA.jpg") == b"2"


def test_traversal_and_macos_metadata_are_ignored():
    files = {"../evil.jpg": b"e", "/abs.jpg": b"a", "__MACOSX/._x.jpg": b"m", "._x.jpg": b"m"}
    archive = PhotoArchive(zip_bytes({**files, "x.jpg": b"ok"}))
    assert archive.find("evil.jpg") is None
    assert archive.find("abs.jpg") is None
    assert archive.find("x.jpg") == b"ok"  # not made ambiguous by the ._x.jpg forks
    assert archive.names() == ["x.jpg"]
    assert "../evil.jpg" in archive.ignored


def test_cyrillic_names_from_windows_archivers_are_decoded():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("xx.jpg", b"face")
    # Same length, no UTF-8 flag: what an old Windows archiver writes.
    data = buf.getvalue().replace(b"xx.jpg", "Ив.jpg".encode("cp866"))
    assert PhotoArchive(data).find("ив.jpg") == b"face"


def test_broken_zip_is_refused_clearly():
    with pytest.raises(PhotoArchiveError, match="not a valid ZIP file"):
        PhotoArchive(b"this is not a zip at all")
    truncated = zip_bytes({"a.jpg": photo()})[:200]
    with pytest.raises(PhotoArchiveError, match="not a valid ZIP file"):
        PhotoArchive(truncated)


def test_zip_bomb_by_ratio_is_refused():
    bomb = zip_bomb(64 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    with pytest.raises(PhotoArchiveError, match="possible ZIP bomb"):
        PhotoArchive(bomb)


def test_zip_over_total_size_is_refused():
    data = zip_bytes({f"{n}.jpg": bytes(range(256)) * 40 for n in range(5)})
    with pytest.raises(PhotoArchiveError, match="unpacks to more than"):
        PhotoArchive(data, max_total_bytes=40_000)


def test_too_many_members_are_refused():
    with pytest.raises(PhotoArchiveError, match="more than 3 files"):
        PhotoArchive(zip_bytes({f"{n}.jpg": b"x" for n in range(4)}), max_members=3)


def test_member_larger_than_the_limit_is_refused_when_read():
    archive = PhotoArchive(zip_bytes({"big.jpg": b"x" * 5000}), max_member_bytes=4000)
    with pytest.raises(PhotoArchiveError, match="big.jpg is larger than"):
        archive.find("big.jpg")


def test_lying_header_is_not_trusted():
    archive = PhotoArchive(lying_zip(real=b"x" * 5000, claimed=100))
    with pytest.raises(PhotoArchiveError, match="liar.jpg"):
        archive.find("liar.jpg")


def test_damaged_member_is_reported_by_name():
    data = bytearray(zip_bytes({"a.jpg": photo()}))
    data[60:90] = b"\xff" * 30  # inside the compressed data
    archive = PhotoArchive(bytes(data))
    with pytest.raises(PhotoArchiveError, match="a.jpg is damaged"):
        archive.find("a.jpg")


def test_reads_from_a_path_and_a_stream(tmp_path):
    data = zip_bytes({"p/q.jpg": b"q"})
    path = tmp_path / "photos.zip"
    path.write_bytes(data)
    with PhotoArchive(path) as archive:
        assert archive.find("q.jpg") == b"q"
    with PhotoArchive(io.BytesIO(data)) as archive:
        assert len(archive) == 1
