"""A bounded write-ahead queue of encoded events on local disk, so that no event is lost while Kafka is away.

Layout of the spool directory:

    segments/<first index, 20 digits>.seg   records [u32 length][u32 crc32 of the bytes][bytes], big-endian
    cursor.json                             {"next": n, "acked": [...]}: every index < n is acknowledged,
                                            and so are the listed ones above it (acks arrive out of order)

Records get consecutive indices from 0 for the life of the directory. `append` writes through to the
operating system at once (a crash of the process loses nothing appended); `sync` fsyncs, and the
caller batches it (a power loss can lose what was appended since the last sync). The cursor is
written atomically (tmp file, fsync, rename) by `commit`; segments whose records are all acknowledged
are then deleted. On open, a torn tail of the newest segment (bad length or CRC) is cut off, and
every record not acknowledged by the cursor is pending again.

The bound `max_bytes` counts the segment files on disk. An append that would pass it raises
SpoolFullError and changes nothing: what is already spooled stays.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

HEADER = struct.Struct(">II")  # length, crc32
SEGMENT_SUFFIX = ".seg"
CURSOR_FILE = "cursor.json"
DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class SpoolError(RuntimeError):
    """The spool cannot do what was asked; the message names the directory."""


class SpoolFullError(SpoolError):
    """Appending would pass the spool's size bound; nothing already spooled was touched."""

    def __init__(self, directory: Path, max_bytes: int, used_bytes: int, record_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.used_bytes = used_bytes
        super().__init__(
            f"audit spool {directory} is full: {used_bytes} of {max_bytes} bytes used, a {record_bytes}-byte "
            "record does not fit; events already spooled are kept and will be delivered when Kafka is reachable"
        )


class SpoolCorruptError(SpoolError):
    """A segment other than the newest does not parse: not a torn write, so it is not cut off silently."""


@dataclass
class _Segment:
    first: int  # index of its first record
    path: Path
    count: int = 0
    size: int = 0
    offsets: list[int] | None = None  # byte offset of each record, kept for reading

    @property
    def end(self) -> int:
        return self.first + self.count


def _segment_name(first: int) -> str:
    return f"{first:020d}{SEGMENT_SUFFIX}"


def _scan(path: Path) -> tuple[list[int], int]:
    """Offsets of the whole records in a segment file, and the byte length they cover."""
    data = path.read_bytes()
    offsets: list[int] = []
    pos = 0
    while pos + HEADER.size <= len(data):
        length, crc = HEADER.unpack_from(data, pos)
        start = pos + HEADER.size
        if start + length > len(data) or zlib.crc32(data[start : start + length]) != crc:
            break
        offsets.append(pos)
        pos = start + length
    return offsets, pos


class DiskSpool:
    """Thread-safe: producers `append` from any thread while one reader `read`s, `acknowledge`s and `commit`s."""

    def __init__(
        self, directory: str | Path, max_bytes: int = DEFAULT_MAX_BYTES, segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ) -> None:
        if max_bytes <= HEADER.size:
            raise ValueError(f"max_bytes {max_bytes}, want more than {HEADER.size}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._segments_dir = self.directory / "segments"
        self._segments_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._writer: int | None = None  # fd of the newest segment, opened for appending
        self._dirty = False  # appended since the last sync
        self._acked_below, acked = self._read_cursor()
        self._acked = set(acked)
        self._cursor_written = (self._acked_below, tuple(sorted(self._acked)))
        self._open_segments()
        self._next_read = self._acked_below

    # -- opening -------------------------------------------------------------------------------
    def _read_cursor(self) -> tuple[int, list[int]]:
        try:
            data = json.loads((self.directory / CURSOR_FILE).read_text(encoding="utf-8"))
            return int(data["next"]), [int(i) for i in data.get("acked", [])]
        except FileNotFoundError:
            return 0, []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SpoolCorruptError(f"audit spool {self.directory}: unreadable {CURSOR_FILE}") from exc

    def _open_segments(self) -> None:
        paths = sorted(self._segments_dir.glob(f"*{SEGMENT_SUFFIX}"))
        for i, path in enumerate(paths):
            try:
                first = int(path.stem)
            except ValueError as exc:
                raise SpoolCorruptError(f"audit spool {self.directory}: unexpected file {path.name}") from exc
            offsets, good = _scan(path)
            size = path.stat().st_size
            if good < size:
                if i != len(paths) - 1:
                    raise SpoolCorruptError(
                        f"audit spool {self.directory}: {path.name} is corrupt at byte {good} of {size} "
                        "and is not the newest segment; move it aside to continue"
                    )
                os.truncate(path, good)  # a torn tail: the record was never wholly written
            if self._segments and first != self._segments[-1].end:
                raise SpoolCorruptError(f"audit spool {self.directory}: {path.name} does not follow the segment before")
            self._segments.append(_Segment(first, path, len(offsets), good, offsets))
        if self._segments and self._acked_below < self._segments[0].first:
            self._acked_below = self._segments[0].first
        end = self._segments[-1].end if self._segments else self._acked_below
        self._acked = {i for i in self._acked if self._acked_below <= i < end}

    # -- appending -----------------------------------------------------------------------------
    def _used(self) -> int:
        return sum(s.size for s in self._segments)

    def append(self, data: bytes) -> int:
        """Write one record through to the OS and return its index; raises SpoolFullError if it does not fit."""
        record = HEADER.pack(len(data), zlib.crc32(data)) + data
        with self._lock:
            used = self._used()
            if used + len(record) > self.max_bytes:
                raise SpoolFullError(self.directory, self.max_bytes, used, len(record))
            segment = self._current_segment(len(record))
            offset = segment.size
            written = os.write(self._writer, record)  # type: ignore[arg-type]
            if written != len(record):  # a short write (disk full): cut it off so the file stays whole
                os.ftruncate(self._writer, offset)  # type: ignore[arg-type]
                raise SpoolError(f"audit spool {self.directory}: short write ({written} of {len(record)} bytes)")
            segment.size += len(record)
            assert segment.offsets is not None
            segment.offsets.append(offset)
            segment.count += 1
            self._dirty = True
            return segment.end - 1

    def _current_segment(self, record_size: int) -> _Segment:
        last = self._segments[-1] if self._segments else None
        if last is not None and self._writer is not None and last.size + record_size <= self.segment_bytes:
            return last
        if last is not None and self._writer is None and last.size + record_size <= self.segment_bytes:
            self._writer = os.open(last.path, os.O_WRONLY | os.O_APPEND)
            return last
        self._close_writer()
        first = last.end if last is not None else self._acked_below
        path = self._segments_dir / _segment_name(first)
        self._writer = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        segment = _Segment(first, path, 0, 0, [])
        self._segments.append(segment)
        return segment

    def _close_writer(self) -> None:
        if self._writer is not None:
            if self._dirty:
                os.fsync(self._writer)
                self._dirty = False
            os.close(self._writer)
            self._writer = None

    def sync(self) -> None:
        """fsync what was appended since the last sync (the caller batches this, not once per event)."""
        with self._lock:
            if self._writer is not None and self._dirty:
                os.fsync(self._writer)
                self._dirty = False

    # -- reading and acknowledging ---------------------------------------------------------------
    def read(self, max_records: int) -> list[tuple[int, bytes]]:
        """The next records not yet read since open (or `rewind`), skipping acknowledged ones, in index order."""
        out: list[tuple[int, bytes]] = []
        with self._lock:
            segments = list(self._segments)
            position = self._next_read
            acked = set(self._acked)
        for segment in segments:
            if len(out) >= max_records or position >= segment.end:
                continue
            position = max(position, segment.first)
            assert segment.offsets is not None
            with open(segment.path, "rb") as f:
                while position < segment.end and len(out) < max_records:
                    if position not in acked:
                        f.seek(segment.offsets[position - segment.first])
                        length, _crc = HEADER.unpack(f.read(HEADER.size))
                        out.append((position, f.read(length)))
                    position += 1
        with self._lock:
            self._next_read = max(self._next_read, position)
        return out

    def rewind(self) -> None:
        """Read again from the first unacknowledged record (after the reader lost what it had in flight)."""
        with self._lock:
            self._next_read = self._acked_below

    def acknowledge(self, index: int) -> None:
        """Mark one record delivered (or set aside); durable at the next `commit`."""
        with self._lock:
            if index < self._acked_below:
                return
            self._acked.add(index)
            while self._acked_below in self._acked:
                self._acked.remove(self._acked_below)
                self._acked_below += 1

    def acknowledge_below(self, index: int) -> int:
        """Mark every record below `index` delivered (Kafka's committed cursor says so); returns how many were not."""
        with self._lock:
            if index <= self._acked_below:
                return 0
            end = self._segments[-1].end if self._segments else self._acked_below
            if index > end:
                raise SpoolCorruptError(f"audit spool {self.directory}: Kafka holds events up to index {index}, "
                                        f"but the spool ends at {end}")  # fmt: skip
            newly = index - self._acked_below - sum(1 for i in self._acked if i < index)
            self._acked = {i for i in self._acked if i >= index}
            self._acked_below = index
            while self._acked_below in self._acked:
                self._acked.remove(self._acked_below)
                self._acked_below += 1
            self._next_read = max(self._next_read, self._acked_below)
            return newly

    def commit(self) -> None:
        """Write the cursor atomically if it moved, then delete the segments it wholly covers."""
        with self._lock:
            state = (self._acked_below, tuple(sorted(self._acked)))
            if state != self._cursor_written:
                tmp = self.directory / (CURSOR_FILE + ".tmp")
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump({"next": state[0], "acked": list(state[1])}, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.directory / CURSOR_FILE)
                self._cursor_written = state
            while self._segments and self._segments[0].end <= self._acked_below:
                if len(self._segments) == 1:
                    self._close_writer()
                self._segments.pop(0).path.unlink(missing_ok=True)

    # -- state -----------------------------------------------------------------------------------
    def pending(self) -> int:
        """Records appended and not yet acknowledged."""
        with self._lock:
            end = self._segments[-1].end if self._segments else self._acked_below
            return end - self._acked_below - len(self._acked)

    def used_bytes(self) -> int:
        with self._lock:
            return self._used()

    def close(self) -> None:
        """Sync, write the cursor, and release the files; the directory can be opened again."""
        self.commit()
        with self._lock:
            self._close_writer()

    def __enter__(self) -> DiskSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
