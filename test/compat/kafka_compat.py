#!/usr/bin/python3
"""Cross-checks runnel's on-disk format against python3-kafka (kafka-python 2.0.2).

kafka-python carries its own, independent implementation of Kafka's RecordBatch v2
(kafka/record/default_records.py). This script, run by CTest as compat/python3-kafka with
Debian's /usr/bin/python3, checks the two against each other in both directions:

  (a) write-batches: batches runnel's RecordBatchBuilder wrote are read by kafka-python
      (MemoryRecords, DefaultRecordBatch.validate_crc) and every field is compared with
      what runnel_compat_tool says it meant to write; each batch is also rebuilt with
      kafka-python's DefaultRecordBatchBuilder from the same records and must come out
      byte for byte the same.
  (b) write-segment: a partition directory written through runnel's PartitionLog is read
      segment by segment: names, contiguous offsets, every record, the .index and
      .timeindex entries (against Kafka's rule for when an entry is written) and the
      recovery checkpoint.
  (c) batches built by kafka-python are read by runnel (read-batches) and appended
      through runnel's PartitionLog (append-file), which must store them unchanged but for
      the base offset it assigns.
  (d) the worked example of doc/format.md is the tool's `example` output, and kafka-python
      reads it as the document says.

Exits 1 naming the first mismatch (the batch, the field, the bytes on each side); prints a
short summary on success.
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys

try:
    import kafka
    from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
    from kafka.record.memory_records import MemoryRecords
    from kafka.record.util import calc_crc32c, decode_varint
except ImportError as error:
    sys.exit("kafka_compat: {} cannot import kafka-python ({}). Run `make test`, which "
             "installs Debian's python3-kafka for /usr/bin/python3 (scripts/install-deps.sh), "
             "and run this with /usr/bin/python3.".format(sys.executable, error))

HEADER = DefaultRecordBatch.HEADER_STRUCT  # kafka-python's own layout of the 61-byte header
LOG_APPEND_TIME_BIT = DefaultRecordBatch.TIMESTAMP_TYPE_MASK
CONTROL_BIT = DefaultRecordBatch.CONTROL_MASK
NO_TIMESTAMP = -1

# (byte position, size, name) of the batch header fields, for naming a differing byte.
HEADER_FIELDS = [(0, 8, "baseOffset"), (8, 4, "batchLength"), (12, 4, "partitionLeaderEpoch"),
                 (16, 1, "magic"), (17, 4, "crc"), (21, 2, "attributes"),
                 (23, 4, "lastOffsetDelta"), (27, 8, "baseTimestamp"), (35, 8, "maxTimestamp"),
                 (43, 8, "producerId"), (51, 2, "producerEpoch"), (53, 4, "baseSequence"),
                 (57, 4, "recordCount")]


class Mismatch(Exception):
    """runnel and kafka-python disagree; the message says where and how."""


def check(condition, message, *args):
    if not condition:
        raise Mismatch(message.format(*args))


def hexstr(data):
    return None if data is None else bytes(data).hex()


# ---------------------------------------------------------------------------------------
# Running the tool.

def run_tool(tool, *args):
    proc = subprocess.run([tool] + [str(a) for a in args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise Mismatch("runnel_compat_tool {} failed (exit {}):\n{}".format(
            " ".join(str(a) for a in args), proc.returncode, proc.stderr.strip()))
    return proc.stdout


def run_tool_json(tool, *args):
    out = run_tool(tool, *args)
    try:
        return json.loads(out)
    except ValueError as error:
        raise Mismatch("runnel_compat_tool {} printed invalid JSON: {}".format(
            " ".join(str(a) for a in args), error))


# ---------------------------------------------------------------------------------------
# kafka-python's view of batches.

def kafka_batches(data, where):
    """[(position, raw bytes, DefaultRecordBatch)] of a buffer of consecutive batches."""
    records = MemoryRecords(bytes(data))
    out = []
    pos = 0
    while records.has_next():
        batch = records.next_batch()
        check(isinstance(batch, DefaultRecordBatch),
              "{}: the batch at byte {} is not magic 2 for kafka-python", where, pos)
        size = batch._header_data[1] + MemoryRecords.LOG_OVERHEAD
        out.append((pos, bytes(data[pos:pos + size]), batch))
        pos += size
    check(pos == len(data), "{}: kafka-python found whole batches up to byte {} of {}",
          where, pos, len(data))
    return out


def kafka_view(batch, raw, position, where):
    """The JSON-shaped description of a batch as kafka-python reads it."""
    check(batch.validate_crc(), "{}: kafka-python says the CRC32C 0x{:08x} is wrong "
          "(it computes 0x{:08x} over bytes 21..{})", where, batch.crc,
          calc_crc32c(raw[DefaultRecordBatch.ATTRIBUTES_OFFSET:]), len(raw) - 1)
    h = batch._header_data  # kafka-python 2.0.2 has no properties for the producer fields
    view = {
        "position": position, "size": len(raw), "base_offset": batch.base_offset,
        "batch_length": h[1], "partition_leader_epoch": h[2], "magic": batch.magic,
        "crc": batch.crc, "attributes": batch.attributes,
        "compression": batch.compression_type, "timestamp_type": batch.timestamp_type,
        "transactional": batch.is_transactional, "control": batch.is_control_batch,
        "last_offset_delta": batch.last_offset_delta,
        "base_timestamp": batch.first_timestamp, "max_timestamp": batch.max_timestamp,
        "producer_id": h[9], "producer_epoch": h[10], "base_sequence": h[11],
        "record_count": h[12], "records": [],
    }
    try:
        for r in batch:
            view["records"].append({
                "offset": r.offset, "timestamp": r.timestamp,
                "timestamp_type": r.timestamp_type, "key": hexstr(r.key),
                "value": hexstr(r.value),
                "headers": [[k.encode("utf-8").hex(), hexstr(v)] for k, v in r.headers]})
    except Exception as error:  # kafka-python raises CorruptRecordException and others
        raise Mismatch("{}: kafka-python cannot read the records: {!r}".format(where, error))
    return view


def compare_batch(expected, actual, exp_name, act_name, where):
    for field, want in expected.items():
        if field == "records" or (field == "position" and want is None):
            continue
        got = actual.get(field)
        check(got == want, "{}: field {}: {} has {!r}, {} has {!r}", where, field, exp_name,
              want, act_name, got)
    check(len(expected["records"]) == len(actual["records"]),
          "{}: {} has {} records, {} has {}", where, exp_name, len(expected["records"]),
          act_name, len(actual["records"]))
    for i, (want, got) in enumerate(zip(expected["records"], actual["records"])):
        for field in ("offset", "timestamp", "timestamp_type", "key", "value", "headers"):
            check(want[field] == got[field], "{}, record {}: field {}: {} has {!r}, {} has {!r}",
                  where, i, field, exp_name, want[field], act_name, got[field])


# ---------------------------------------------------------------------------------------
# Byte-for-byte: kafka-python's encoding of the same records.

class ReferenceBuilder(DefaultRecordBatchBuilder):
    """kafka-python's builder plus the attribute bits it leaves to a broker (the timestamp
    type, the control flag); its own write_header lays out the header and computes the CRC."""

    def __init__(self, extra_attributes, **kwargs):
        super().__init__(**kwargs)
        self.extra_attributes = extra_attributes

    def _get_attributes(self, include_compression_type=True):
        return super()._get_attributes(include_compression_type) | self.extra_attributes


def build_reference(records, base_offset, attributes, producer_id, producer_epoch,
                    base_sequence, partition_leader_epoch, log_append_time=None):
    """records: [(offset delta, create timestamp, key, value, [(str, bytes|None)])]."""
    builder = ReferenceBuilder(
        attributes & (LOG_APPEND_TIME_BIT | CONTROL_BIT), magic=2, compression_type=0,
        is_transactional=bool(attributes & DefaultRecordBatch.TRANSACTIONAL_MASK),
        producer_id=producer_id, producer_epoch=producer_epoch, base_sequence=base_sequence,
        batch_size=1 << 30)
    for delta, ts, key, value, headers in records:
        check(builder.append(delta, ts, key, value, headers) is not None,
              "kafka-python's builder refused a record")
    if log_append_time is not None:
        builder._max_timestamp = log_append_time  # what a broker stamps under LogAppendTime
    out = bytearray(builder.build())
    # Set by the broker, outside the CRC.
    struct.pack_into(">q", out, 0, base_offset)
    struct.pack_into(">i", out, 12, partition_leader_epoch)
    return bytes(out)


def reencode(raw):
    """kafka-python's encoding of the records kafka-python reads from `raw`."""
    h = HEADER.unpack_from(raw)
    attributes = h[5]
    plain = bytearray(raw)
    if attributes & LOG_APPEND_TIME_BIT:
        # Under LogAppendTime the reader reports maxTimestamp for every record; with the bit
        # cleared it gives the producer's timestamps (the CRC is not checked when iterating).
        plain[22] &= ~LOG_APPEND_TIME_BIT & 0xFF
    records = [(r.offset - h[0], r.timestamp, r.key, r.value, r.headers)
               for r in DefaultRecordBatch(bytes(plain))]
    return build_reference(records, h[0], attributes, h[9], h[10], h[11], h[2],
                           h[8] if attributes & LOG_APPEND_TIME_BIT else None)


def record_at(raw, pos):
    """(record index, byte within it) of batch byte `pos` >= 61, walking length varints."""
    at, index = HEADER.size, 0
    while at < len(raw):
        length, body = decode_varint(raw, at)
        if pos < body + length:
            return index, pos - at
        at, index = body + length, index + 1
    return index, pos - at


def compare_bytes(want, got, want_name, got_name, where):
    if want == got:
        return
    i = next((k for k in range(min(len(want), len(got))) if want[k] != got[k]),
             min(len(want), len(got)))
    for start, size, name in HEADER_FIELDS:
        if start <= i < start + size:
            raise Mismatch("{}: field {} (bytes {}..{}): {} {} vs {} {}".format(
                where, name, start, start + size - 1, want_name, want[start:start + size].hex(),
                got_name, got[start:start + size].hex()))
    index, offset = record_at(want, i)
    raise Mismatch("{}: {} bytes vs {}; first difference at byte {} (record {}, byte {} of "
                   "it): {} {}... vs {} {}...".format(
                       where, len(want), len(got), i, index, offset, want_name,
                       want[i:i + 16].hex(), got_name, got[i:i + 16].hex()))


# ---------------------------------------------------------------------------------------
# (a) runnel's batches, read by kafka-python.

def check_write_batches(tool, workdir, seed, stats):
    path = os.path.join(workdir, "runnel-batches-{}.bin".format(seed))
    described = run_tool_json(tool, "write-batches", path, seed)["batches"]
    with open(path, "rb") as f:
        data = f.read()
    found = kafka_batches(data, path)
    check(len(found) == len(described), "{}: runnel wrote {} batches, kafka-python read {}",
          path, len(described), len(found))
    for i, ((pos, raw, batch), want) in enumerate(zip(found, described)):
        where = "write-batches seed {} batch {} (byte {})".format(seed, i, pos)
        compare_batch(want, kafka_view(batch, raw, pos, where), "runnel", "kafka-python", where)
        compare_bytes(reencode(raw), raw, "kafka-python's encoding", "runnel's", where)
        stats["batches"] += 1
        stats["records"] += len(want["records"])


# ---------------------------------------------------------------------------------------
# (b) a partition directory written by runnel.

def expected_indexes(batches, base, interval):
    """Kafka's LogSegment.append rule: before appending a batch, an offset index entry
    (its last offset, its position) if more than index.interval.bytes were appended since
    the last entry, with a time index entry for the largest timestamp so far (if it grew);
    the time index gets a last such entry when the segment is sealed."""
    offsets, times = [], []
    since, max_ts, offset_of_max = 0, NO_TIMESTAMP, base

    def maybe_append_time():
        if max_ts > (times[-1][0] if times else NO_TIMESTAMP):
            times.append((max_ts, offset_of_max - base))

    for pos, h in batches:
        last = h[0] + h[6]
        if h[8] > max_ts:
            max_ts, offset_of_max = h[8], last
        if since > interval:
            offsets.append((last - base, pos))
            maybe_append_time()
            since = 0
        since += h[1] + MemoryRecords.LOG_OVERHEAD
    if batches:
        maybe_append_time()
    return offsets, times


def read_entries(path, fmt):
    with open(path, "rb") as f:
        data = f.read()
    size = struct.calcsize(fmt)
    check(len(data) % size == 0, "{} is {} bytes, not a whole number of {}-byte entries "
          "(a sealed index is trimmed)", path, len(data), size)
    return [struct.unpack_from(fmt, data, i) for i in range(0, len(data), size)]


def check_indexes(path_stem, base, batches, interval):
    starts = {pos: h for pos, h in batches}
    index = read_entries(path_stem + ".index", ">II")
    for i, (rel, pos) in enumerate(index):
        check(pos in starts, "{}.index entry {} ({}, {}): no batch starts at byte {}",
              path_stem, i, rel, pos, pos)
        h = starts[pos]
        check(h[0] + h[6] == base + rel, "{}.index entry {}: offset {} but the batch at byte "
              "{} ends at offset {}", path_stem, i, base + rel, pos, h[0] + h[6])
        check(i == 0 or (rel > index[i - 1][0] and pos > index[i - 1][1]),
              "{}.index entry {} does not increase", path_stem, i)
    times = read_entries(path_stem + ".timeindex", ">qI")
    last_offsets = {h[0] + h[6]: h for _, h in batches}
    for i, (ts, rel) in enumerate(times):
        check(i == 0 or (ts > times[i - 1][0] and rel >= times[i - 1][1]),
              "{}.timeindex entry {} ({}, {}): timestamps must strictly increase",
              path_stem, i, ts, rel)
        check(base + rel in last_offsets and last_offsets[base + rel][8] == ts,
              "{}.timeindex entry {} ({}, {}): no batch ends at offset {} with that "
              "maxTimestamp", path_stem, i, ts, rel, base + rel)
    want_index, want_times = expected_indexes(batches, base, interval)
    check(index == want_index, "{}.index is {} but Kafka's rule gives {}", path_stem, index,
          want_index)
    check(times == want_times, "{}.timeindex is {} but Kafka's rule gives {}", path_stem,
          times, want_times)
    return len(index), len(times)


def check_checkpoint(directory, next_offset):
    path = os.path.join(directory, "runnel-partition.checkpoint")
    with open(path, "rb") as f:
        text = f.read()
    match = re.fullmatch(rb"(runnel partition checkpoint v1\nclean_shutdown=(\d)\n"
                         rb"recovery_point=(\d+)\n)crc32c=([0-9a-f]{8})\n", text)
    check(match is not None, "{} does not have the documented format: {!r}", path, text)
    check(calc_crc32c(match.group(1)) == int(match.group(4), 16), "{}: CRC32C mismatch", path)
    check(match.group(2) == b"1" and int(match.group(3)) == next_offset,
          "{}: after Close it should say clean_shutdown=1, recovery_point={}: {!r}", path,
          next_offset, text)


def check_partition_dir(directory, described, config, label, originals=None):
    """Reads every segment of `directory` with kafka-python and checks it against the
    tool's description; `originals`, if given, are the batches as appended (bytes)."""
    names = sorted(os.listdir(directory))
    allowed = re.compile(r"\d{20}\.(log|index|timeindex)|runnel-partition\.checkpoint")
    for name in names:
        check(allowed.fullmatch(name), "{}: unexpected file {}", directory, name)
    logs = [n for n in names if n.endswith(".log")]
    check(len(logs) >= 2, "{}: expected several segments with segment.bytes {}, found {}",
          directory, config["segment_bytes"], logs)
    next_offset, i, stats = 0, 0, {"segments": len(logs), "index": 0, "timeindex": 0}
    previous_size = None
    for name in logs:
        stem = os.path.join(directory, name[:-len(".log")])
        base = int(name[:20])
        with open(stem + ".log", "rb") as f:
            data = f.read()
        found = kafka_batches(data, stem + ".log")
        check(found, "{}.log is empty", stem)
        check(found[0][2].base_offset == base, "{}.log is named for offset {} but its first "
              "batch has base offset {}", stem, base, found[0][2].base_offset)
        if previous_size is not None:  # it rolled because the next batch did not fit
            check(previous_size + len(found[0][1]) > config["segment_bytes"],
                  "{}.log was started although the batch fit the previous segment", stem)
        check(len(data) <= config["segment_bytes"], "{}.log is {} bytes, over segment.bytes {}",
              stem, len(data), config["segment_bytes"])
        previous_size = len(data)
        for pos, raw, batch in found:
            where = "{} {}.log batch at byte {}".format(label, stem, pos)
            check(batch.base_offset == next_offset, "{}: base offset {}, expected {} (offsets "
                  "must be contiguous across segments)", where, batch.base_offset, next_offset)
            check(i < len(described), "{}: more batches than runnel appended", where)
            view = kafka_view(batch, raw, pos, where)
            compare_batch(described[i], view, "runnel", "kafka-python", where)
            if originals is not None:
                want = bytearray(originals[i])
                struct.pack_into(">q", want, 0, batch.base_offset)
                compare_bytes(bytes(want), raw, "the appended batch", "the segment's", where)
            else:
                compare_bytes(reencode(raw), raw, "kafka-python's encoding", "runnel's", where)
            next_offset = batch.base_offset + batch.last_offset_delta + 1
            i += 1
        headers = [(pos, HEADER.unpack_from(raw)) for pos, raw, _ in found]
        n_index, n_time = check_indexes(stem, base, headers, config["index_interval_bytes"])
        stats["index"] += n_index
        stats["timeindex"] += n_time
    check(i == len(described), "{}: runnel appended {} batches, the segments hold {}",
          directory, len(described), i)
    check(stats["index"] > 0 and stats["timeindex"] > 0,
          "{}: no index entries at all with index.interval.bytes {}", directory,
          config["index_interval_bytes"])
    check_checkpoint(directory, next_offset)
    stats["batches"], stats["offsets"] = i, next_offset
    return stats


def check_write_segment(tool, workdir, seed):
    directory = os.path.join(workdir, "runnel-segment-{}".format(seed), "compat-0")
    out = run_tool_json(tool, "write-segment", directory, seed)
    return check_partition_dir(directory, out["batches"], out["config"],
                               "write-segment seed {}".format(seed))


# ---------------------------------------------------------------------------------------
# (c) kafka-python's batches, read and appended by runnel.

def kafka_specs():
    """Batches to build with kafka-python: (options, records) with records as
    (offset delta, timestamp, key, value, headers)."""
    ts = 1700000000000
    big = bytes(range(256)) * 80  # 20480 bytes: a length varint of 3 bytes
    plain = {"pid": -1, "epoch": -1, "seq": -1, "attributes": 0, "epoch_leader": 0}
    return [
        (plain, [(0, ts, b"key-0", b"value-0", []),
                 (1, ts + 5, None, b"no key", [("trace", b"t1")]),
                 (2, ts + 3, b"", b"", [("", b""), ("n", None)]),
                 (3, ts - 1000, b"\x00\xff", None, [("\u00fc-\u00f1", b"\x00\x01")])]),
        (dict(plain, pid=4242, epoch=2, seq=17),
         [(0, ts, b"idem", b"potent", []), (1, ts + 1, b"idem", b"again", [])]),
        (dict(plain, pid=99, epoch=1, seq=0, attributes=DefaultRecordBatch.TRANSACTIONAL_MASK),
         [(0, ts + 10, b"txn-k", b"txn-v", [("h", b"x"), ("h", b"y")]),
          (1, ts + 11, None, None, [])]),
        (dict(plain, epoch_leader=5), [(0, ts, b"compacted", b"a", []),
                                       (4, ts + 4, b"gap", b"b", []),
                                       (9, ts + (1 << 40), b"far", b"c", [])]),
        (dict(plain, pid=99, epoch=1, seq=2,
              attributes=DefaultRecordBatch.TRANSACTIONAL_MASK | LOG_APPEND_TIME_BIT,
              log_append_time=ts + 999999),
         [(0, ts + 20, b"lat", b"1", [("\u65e5\u672c", None)]), (1, ts + 19, b"lat", b"2", [])]),
        (dict(plain, large=True), [(0, ts, b"k" * 300, big, []), (1, ts, b"small", b"v", [])]),
    ]


def kafka_build_file(base_offset, skip_large):
    """(bytes of the file, [expected description], [each batch's bytes])."""
    data, described, batches = bytearray(), [], []
    for options, records in kafka_specs():
        if skip_large and options.get("large"):
            continue
        raw = build_reference(records, base_offset, options["attributes"], options["pid"],
                              options["epoch"], options["seq"], options["epoch_leader"],
                              options.get("log_append_time"))
        lat = options.get("log_append_time")
        ts_type = 1 if lat is not None else 0
        max_ts = lat if lat is not None else max(r[1] for r in records)
        described.append({
            "position": len(data), "size": len(raw), "base_offset": base_offset,
            "batch_length": len(raw) - 12, "partition_leader_epoch": options["epoch_leader"],
            "magic": 2, "crc": calc_crc32c(raw[21:]), "attributes": options["attributes"],
            "compression": 0, "timestamp_type": ts_type,
            "transactional": bool(options["attributes"] & DefaultRecordBatch.TRANSACTIONAL_MASK),
            "control": False, "last_offset_delta": records[-1][0],
            "base_timestamp": records[0][1], "max_timestamp": max_ts,
            "producer_id": options["pid"], "producer_epoch": options["epoch"],
            "base_sequence": options["seq"], "record_count": len(records),
            "records": [{"offset": base_offset + d, "timestamp": max_ts if lat else t,
                         "timestamp_type": ts_type, "key": hexstr(k), "value": hexstr(v),
                         "headers": [[hk.encode("utf-8").hex(), hexstr(hv)] for hk, hv in hs]}
                        for d, t, k, v, hs in records]})
        batches.append(raw)
        data += raw
        base_offset += records[-1][0] + 1
    return bytes(data), described, batches


def check_kafka_built(tool, workdir):
    path = os.path.join(workdir, "kafka-batches.bin")
    data, described, _ = kafka_build_file(1 << 33, skip_large=False)
    with open(path, "wb") as f:
        f.write(data)
    read = run_tool_json(tool, "read-batches", path)["batches"]
    check(len(read) == len(described), "{}: kafka-python wrote {} batches, runnel read {}",
          path, len(described), len(read))
    for i, (want, got) in enumerate(zip(described, read)):
        compare_batch(want, got, "kafka-python", "runnel", "read-batches batch {}".format(i))

    # Appended through runnel's log: stored unchanged but for the assigned base offsets.
    # The large batch stays out: Kafka rejects a batch larger than segment.bytes.
    path = os.path.join(workdir, "kafka-batches-small.bin")
    data, _, originals = kafka_build_file(0, skip_large=True)
    with open(path, "wb") as f:
        f.write(bytes(data) * 16)
    originals = originals * 16
    directory = os.path.join(workdir, "kafka-appended", "compat-0")
    out = run_tool_json(tool, "append-file", directory, path)
    stats = check_partition_dir(directory, out["batches"], out["config"], "append-file",
                                originals)
    return len(described), len(read), stats


# ---------------------------------------------------------------------------------------
# (d) the worked example of doc/format.md.

DUMP_LINE = re.compile(r"^[0-9a-f]{4}  ((?:[0-9a-f]{2} )*[0-9a-f]{2})\s")


def check_example(tool, doc):
    dump = run_tool(tool, "example")
    data = bytearray()
    for line in dump.splitlines():
        match = DUMP_LINE.match(line)
        if match:
            data += bytes.fromhex(match.group(1).replace(" ", ""))
    found = kafka_batches(bytes(data), "the example")
    check(len(found) == 1, "the example should be one batch")
    view = kafka_view(found[0][2], found[0][1], 0, "the example")
    got = [(r["key"], r["value"], r["headers"], r["timestamp"] - view["base_timestamp"])
           for r in view["records"]]
    want = [(b"k1".hex(), b"hello".hex(), [[b"trace".hex(), b"t1".hex()]], 0),
            (None, b"world".hex(), [], 5)]
    check(got == want, "the example holds {}, the document describes {}", got, want)
    compare_bytes(reencode(found[0][1]), found[0][1], "kafka-python's encoding", "runnel's",
                  "the example")
    if doc:
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        check(dump in text, "{}'s worked example is not the output of `runnel_compat_tool "
              "example`; paste it in again:\n{}", doc, dump)
    return "{:08x}".format(view["crc"])


# ---------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", required=True, help="path of runnel_compat_tool")
    parser.add_argument("--workdir", required=True, help="scratch directory (emptied first)")
    parser.add_argument("--doc", help="doc/format.md, whose worked example is checked")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated generator seeds")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    try:
        stats = {"batches": 0, "records": 0}
        for seed in seeds:
            check_write_batches(args.tool, args.workdir, seed, stats)
        segments = [check_write_segment(args.tool, args.workdir, seed) for seed in seeds]
        written, read, appended = check_kafka_built(args.tool, args.workdir)
        crc = check_example(args.tool, args.doc)
    except Mismatch as error:
        print("kafka_compat: MISMATCH between runnel and python3-kafka {}:\n  {}".format(
            kafka.__version__, error), file=sys.stderr)
        return 1
    print("runnel and python3-kafka {} agree:".format(kafka.__version__))
    print("  (a) write-batches, seeds {}: {} batches, {} records read by kafka-python, CRCs "
          "valid, each batch identical to kafka-python's encoding".format(
              args.seeds, stats["batches"], stats["records"]))
    print("  (b) write-segment: {} segments, {} batches, {} offsets; {} .index and {} "
          ".timeindex entries as Kafka's rule gives; checkpoint valid".format(
              sum(s["segments"] for s in segments), sum(s["batches"] for s in segments),
              sum(s["offsets"] for s in segments), sum(s["index"] for s in segments),
              sum(s["timeindex"] for s in segments)))
    print("  (c) {} kafka-python batches read by runnel; {} appended through PartitionLog "
          "into {} segments, stored unchanged but for the base offset".format(
              written, appended["batches"], appended["segments"]))
    print("  (d) the worked example (CRC32C 0x{}) reads as documented{}".format(
        crc, " and matches " + args.doc if args.doc else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
