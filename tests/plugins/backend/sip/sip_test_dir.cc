// Compiled into each binary that runs on the SIP test host, with the folder
// of its own dialplan.lua and scenarios/ as SIP_TEST_DIR (see sip_host.h).
// No include: this one line builds in no time, where sip_host.h does not.
namespace dialtone::testing {
const char* sip_test_dir();
const char* sip_test_dir() { return SIP_TEST_DIR; }
}  // namespace dialtone::testing
