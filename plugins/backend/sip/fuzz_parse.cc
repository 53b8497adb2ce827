#include "plugins/backend/sip/fuzz_parse.h"

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_mclass.h>
#include <sofia-sip/msg_buffer.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_parser.h>

#include <cstring>
#include <string>

#include "plugins/backend/sip/digest.h"

namespace dialtone::plugins::backend::sip {

int parse_network_bytes(const std::uint8_t* data, std::size_t size) {
  msg_t* msg = msg_create(sip_default_mclass(), MSG_FLG_EXTRACT_COPY);
  if (!msg) return 0;
  int complete = 0;
  // Like a datagram: the whole buffer, then end of stream.
  void* p = msg_buf_alloc(msg, size + 1);
  if (p) {
    if (size) std::memcpy(p, data, size);
    msg_buf_commit(msg, size, 1);
    int n = msg_extract(msg);
    if (n > 0) {
      complete = 1;
      sip_t* sip = sip_object(msg);
      if (sip) {
        for (auto* h : {sip->sip_authorization, sip->sip_proxy_authorization}) {
          for (auto* au = h; au; au = au->au_next) {
            std::string text = au->au_scheme ? au->au_scheme : "";
            for (auto q = au->au_params; q && *q; ++q) text += std::string(" ") + *q + ",";
            if (!text.empty() && text.back() == ',') text.pop_back();
            if (auto c = parse_digest(text)) {
              if (auto a = digest_algorithm(c->algorithm))
                (void)digest_response(*a, *c, "secret", "REGISTER");
            }
          }
        }
        for (auto* m = sip->sip_contact; m; m = m->m_next) (void)m->m_expires;
      }
    }
  }
  msg_destroy(msg);
  return complete;
}

}  // namespace dialtone::plugins::backend::sip
