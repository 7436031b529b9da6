#!/usr/bin/python3
# Prints the golden table of test/client/partitioner_test.cc: Kafka's Java murmur2 (as
# Debian's python3-kafka implements it, kafka.partitioner.default.murmur2) and
# toPositive(murmur2(key)) % N for N in 1, 3, 8, 100, for every key below.
#   /usr/bin/python3 test/client/partitioner_golden.py
from kafka.partitioner.default import murmur2


def pattern(n, mul, add):
    return bytes((i * mul + add) % 256 for i in range(n))


def cxx_literal(b):
    out = ""
    for c in b:
        ch = chr(c)
        if 0x20 <= c < 0x7f and ch not in '"\\?':
            out += ch
        else:
            out += "\\%03o" % c  # octal: at most 3 digits, never swallows the next char
    return '"' + out + '"s'


KEYS = [b""]
KEYS += [b"abcdefghi"[:n] for n in range(1, 10)]  # every tail length, 1 to 9 bytes
KEYS += [b"21", b"0", b"1", b"key", b"hello", b"kafka", b"runnel", b"orders", b"user-42",
         b"k0", b"k1", b"k999", b"The quick brown fox jumps over the lazy dog",
         "h\u00e9llo".encode(), "\u65e5\u672c".encode()]
KEYS += [b"\x00", b"\x00\x00", b"\x00\x00\x00", b"\x00\x00\x00\x00", b"\x80", b"\xff",
         b"\xff\xff", b"\xff\xff\xff", b"\xff\xff\xff\xff", b"\xff\xff\xff\xff\xff",
         b"\x80\x00\x80\x00\x80", b"\x01\x02\x03\x04\x05\x06\x07", b"\x7f\x80\x81\xfe\xff",
         b"\x00a\x00b", b"a\x00"]
LONG = [(1000, 0, ord("x")), (1000, 1, 0), (1001, 7, 3), (1002, 131, 255), (1003, 0, 0xff)]

rows = [(cxx_literal(k), k) for k in KEYS]
rows += [("Pattern(%d, %d, %d)" % p, pattern(*p)) for p in LONG]
for expr, key in rows:
    h = murmur2(key)
    signed = h - (1 << 32) if h & 0x80000000 else h
    positive = h & 0x7FFFFFFF
    parts = ", ".join(str(positive % n) for n in (1, 3, 8, 100))
    print("    {%s, %d, {%s}}," % (expr, signed, parts))
