// SHA-256: the FIPS 180-4 examples (NIST's "SHA256.pdf" and the CSRC short and long
// messages: "abc", the 448-bit two-block message, the 896-bit message, a million 'a'),
// the empty string, padding edges (55, 56, 63, 64 bytes) against known digests, and
// incremental updates split at every position agreeing with one-shot hashing.
#include "format/sha256.h"

#include <catch2/catch.hpp>
#include <string>

namespace runnel::format {
namespace {

std::string Hex(std::string_view s) { return ToHex(Sha256Of(s)); }

TEST_CASE("SHA-256 FIPS 180-4 example messages", "[sha256]") {
  CHECK(Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklm"
            "nopqrlmnopqrsmnopqrstnopqrstu") ==
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  CHECK(Hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256 of the empty string", "[sha256]") {
  CHECK(Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("SHA-256 padding edges", "[sha256]") {
  // Digests from coreutils' sha256sum of the same bytes.
  CHECK(Hex(std::string(55, 'a')) ==
        "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(Hex(std::string(56, 'a')) ==
        "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(Hex(std::string(63, 'a')) ==
        "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
  CHECK(Hex(std::string(64, 'a')) ==
        "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("SHA-256 incremental updates agree with one-shot hashing", "[sha256]") {
  std::string message;
  for (int i = 0; i < 300; ++i) message.push_back(static_cast<char>(i * 7 + 3));
  const Sha256Digest whole = Sha256Of(message);
  for (size_t cut = 0; cut <= message.size(); ++cut) {
    Sha256 h;
    h.Update(std::string_view(message).substr(0, cut));
    h.Update(std::string_view(message).substr(cut));
    INFO("cut at " << cut);
    CHECK(h.Finish() == whole);
  }
  Sha256 bytewise;
  for (char c : message) bytewise.Update(std::string_view(&c, 1));
  CHECK(bytewise.Finish() == whole);
}

}  // namespace
}  // namespace runnel::format
