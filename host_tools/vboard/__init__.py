"""A virtual ESP32 on a serial port for mpremote, the deploy tool and a technician's REPL
(`street vboard DIR`; docs/vboard.md)."""

from host_tools.vboard.board import IMAGES, VBoard, VBoardError

__all__ = ["IMAGES", "VBoard", "VBoardError"]
