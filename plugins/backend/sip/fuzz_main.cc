// libFuzzer entry: sofia's SIP parser plus the digest parser, and the digest
// parser alone on the raw bytes.
#include <string_view>

#include "plugins/backend/sip/digest.h"
#include "plugins/backend/sip/fuzz_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, unsigned long size) {
  dialtone::plugins::backend::sip::parse_network_bytes(data, size);
  (void)dialtone::plugins::backend::sip::parse_digest(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
