"""Reproducible OGG Vorbis files: libsndfile's random stream serial replaced by one from the name."""
from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from .species import SR

ONE_CALL_S = 60  # libsndfile 1.2.2 crashes (SIGSEGV) writing ~100 s of Vorbis or more in one call, so
CHUNK_S = 10     # longer audio goes in 10-s chunks (which encode to other bytes: short files keep one call)
_BITREV = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _ogg_crc(page: bytes) -> int:
    """Ogg's CRC-32 (poly 0x04C11DB7, MSB first, init 0) via zlib's reflected CRC."""
    raw = zlib.crc32(page.translate(_BITREV), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{raw:032b}"[::-1], 2)


def set_ogg_serial(data: bytes, serial: int) -> bytes:
    """Replace libsndfile's random Ogg stream serial so that files are reproducible."""
    buf, pos = bytearray(data), 0
    while pos < len(buf):
        if buf[pos:pos + 4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {pos}")
        n_seg = buf[pos + 26]
        end = pos + 27 + n_seg + sum(buf[pos + 27:pos + 27 + n_seg])
        buf[pos + 14:pos + 18] = serial.to_bytes(4, "little")
        buf[pos + 22:pos + 26] = bytes(4)
        buf[pos + 22:pos + 26] = _ogg_crc(bytes(buf[pos:end])).to_bytes(4, "little")
        pos = end
    return bytes(buf)


def write_ogg(path: Path, audio: np.ndarray, sample_rate: int = SR) -> None:
    """OGG Vorbis (mono ``[n]`` or multichannel ``[n, ch]``), with a serial derived from the name."""
    mem, step = io.BytesIO(), CHUNK_S * sample_rate
    if len(audio) <= ONE_CALL_S * sample_rate:
        sf.write(mem, audio, sample_rate, format="OGG", subtype="VORBIS")
    else:
        channels = 1 if audio.ndim == 1 else audio.shape[1]
        with sf.SoundFile(mem, "w", sample_rate, channels, format="OGG", subtype="VORBIS") as f:
            for start in range(0, len(audio), step):
                f.write(audio[start:start + step])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(set_ogg_serial(mem.getvalue(), zlib.crc32(path.name.encode()) & 0x7FFFFFFF))
