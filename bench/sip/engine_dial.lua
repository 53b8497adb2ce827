-- Benchmark dialplan of the engine-bridged path (sip_bench_server engine=1
-- dialplan=bench/sip/engine_dial.lua): every call is answered by Dialtone
-- with its media in the engine, then its extension is routed as usual; the
-- callee is rung with an offer from the engine and both endpoints are
-- joined in a mixer.
local calls = require("calls")

function route_call(call)
  calls.prepare(call)
  if not call:answer() then return { action = "done" } end
  return calls.route(call)
end
