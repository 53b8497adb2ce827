// UDPTL (ITU-T T.38 clause 9.1 and annex): the UDP framing of T.38's IFP
// packets, with redundancy error recovery. A datagram is, in ASN.1 PER
// (aligned):
//
//   seq-number          2 octets, big-endian
//   primary-ifp-packet  open type: length determinant, then the IFP octets
//   error-recovery      0x00 (secondary-ifp-packets): a count, then that
//                       many earlier IFPs (seq-1 first) as open types;
//                       0x80 (fec-info): not produced, and only the primary
//                       of such a datagram is used
//
// Length determinants are one octet below 128 and two (0x80 | high, low)
// below 16384; larger ones (fragmented) are refused. No allocation: fixed
// buffers sized for the largest datagram T.38 terminals send.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dialtone::plugins::media {

class UdptlEncoder {
 public:
  static constexpr int kMaxIfp = 512;        // an IFP larger than this is refused
  static constexpr int kMaxDatagram = 1400;  // what build() may write
  static constexpr int kMaxRedundancy = 4;   // earlier IFPs carried again

  // `max_datagram`: the peer's T38FaxMaxDatagram (earlier IFPs that would
  // not fit are left out); `redundancy`: how many earlier IFPs to repeat
  // (0: T38FaxUdpEC none).
  void configure(int max_datagram, int redundancy);
  // Writes the datagram carrying `ifp` (numbered with the next sequence
  // number) to `out` (kMaxDatagram octets); its length, or -1 when the IFP is
  // too large.
  int build(const std::uint8_t* ifp, int len, std::uint8_t* out);

 private:
  struct Entry {
    std::uint8_t data[kMaxIfp];
    int len = 0;
  };
  Entry history_[kMaxRedundancy];
  int stored_ = 0;     // entries in history_ (up to kMaxRedundancy)
  int newest_ = -1;    // index of the last IFP sent
  std::uint16_t seq_ = 0;
  int max_datagram_ = 400;
  int redundancy_ = 3;
};

class UdptlDecoder {
 public:
  // Called for each IFP in sequence order (recovered ones before the
  // primary); `seq` is its UDPTL sequence number.
  using Sink = void (*)(void* user, std::uint16_t seq, const std::uint8_t* ifp, int len);

  // Decodes one datagram; false (nothing delivered) when it is not UDPTL.
  // A datagram older than one already seen delivers nothing; a gap is filled
  // from the secondary IFPs the datagram carries.
  bool decode(const std::uint8_t* buf, int len, Sink sink, void* user);
  // Datagrams refused as malformed, and IFPs recovered from redundancy.
  std::uint64_t malformed() const { return malformed_; }
  std::uint64_t recovered() const { return recovered_; }

 private:
  static constexpr int kMaxSecondaries = 16;
  bool started_ = false;
  std::uint16_t next_ = 0;  // the sequence number expected next
  std::uint64_t malformed_ = 0, recovered_ = 0;
};

}  // namespace dialtone::plugins::media
