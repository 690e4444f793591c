"""`make firmware`: without ESP-IDF it says so and names the container command for the board;
a board it does not know is one clear line."""

from host_tools import image


def test_without_esp_idf_it_prints_the_container_command(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")  # no idf.py anywhere
    assert image.main(["esp32-devkitc"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("make firmware: ESP-IDF is not installed here")
    assert "BOARD=ESP32_GENERIC " in out and "FROZEN_MANIFEST=/project/firmware/manifest.py" in out
    assert f"-b {image.TAG} " in out


def test_board_names_ours_or_micropythons():
    assert image.micropython_board("esp32-s3-devkitc-1") == "ESP32_GENERIC_S3"
    assert image.micropython_board("ESP32_GENERIC_C3") == "ESP32_GENERIC_C3"


def test_an_unknown_board_is_one_line(capsys):
    assert image.main(["esp8266"]) == 2
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("make firmware: unknown board 'esp8266': known boards are esp32-devkitc")


def test_every_shipped_board_map_has_an_image():
    names = {p.stem for p in (image.ROOT / "boards").glob("*.json")}
    assert names == set(image.MICROPYTHON_BOARDS)
