-- Outgoing calls: route selection by priority and extension pattern, the
-- dialed number transformation (strip/prefix or RegExp/Target), caller ID,
-- and the route's trunks tried in order.
--
-- config.outcalls() gives the enabled routes:
--   { id, name, priority, internal_caller_id, preprocess_subroutine,
--     ring_time, patterns = { {pattern, strip_digits, prefix, caller_id,
--     regexp, target}, ... }, trunks = { {id, host, context, interface,
--     interface_suffix}, ... } }
-- A trunk has a SIP endpoint (host) or a custom one (interface, e.g. dahdi/g1
-- for DAHDI group 1, seed 5.19.5).
local patterns = require("patterns")
local callerid = require("callerid")
local subroutines = require("subroutines")

local M = {}

M.default_ring_time = 60

-- The number sent to the trunk for `number` dialed through `pattern`.
-- RegExp/Target when the pattern has a regexp that matches; otherwise
-- strip_digits then prefix.
function M.transform(pattern, number)
  if type(pattern.regexp) == "string" and pattern.regexp ~= "" then
    local rewritten = patterns.rewrite(pattern.regexp, pattern.target or "\\1", number)
    if rewritten then return rewritten end
  end
  local strip = tonumber(pattern.strip_digits) or 0
  return (pattern.prefix or "") .. number:sub(strip + 1)
end

-- The route for `number`: (outcall, pattern, number to send) or nil.
-- Lower priority values are tried first; equal priorities keep the order of
-- the list; within a route the most specific matching pattern wins.
function M.find(outcalls, number)
  local sorted = {}
  for i, o in ipairs(outcalls or {}) do
    if o.enabled ~= false then sorted[#sorted + 1] = { o = o, i = i } end
  end
  table.sort(sorted, function(a, b)
    local pa, pb = tonumber(a.o.priority) or 5, tonumber(b.o.priority) or 5
    if pa ~= pb then return pa < pb end
    return a.i < b.i
  end)
  for _, entry in ipairs(sorted) do
    local best
    for _, p in ipairs(entry.o.patterns or {}) do
      if patterns.extension_matches(p.pattern, number)
          and (not best or patterns.specificity(p.pattern) < patterns.specificity(best.pattern)) then
        best = p
      end
    end
    if best then return entry.o, best, M.transform(best, number) end
  end
  return nil
end

-- True when the next trunk should be tried after `outcome`. The backend
-- says so from the trunk's failover_codes (XiVO's default: 401, 403, 404,
-- 407, 408, 480, 5xx); without its word, a server error (5xx), a timeout or
-- a transport failure.
function M.failover(outcome)
  if outcome.failover ~= nil then return outcome.failover end
  local code = tonumber(outcome.code) or 0
  return outcome.status == "noanswer" or outcome.status == "congestion" or code == 0 or code == 408
      or (code >= 500 and code < 600)
end

-- The call:dial target of `trunk` for `dialed`, and whether the caller's
-- media must end in the engine first. A SIP trunk is rung with the caller's
-- own offer. A custom interface is dialed as XiVO does, <Interface>/<EXTEN>
-- <Interface suffix>, the technology in any case (DAHDI/g1 ->
-- dahdi/g1/<number>); a DAHDI channel joins the caller's media in the
-- engine: the caller gets early media (call:progress(), SIP 183 with the
-- engine's SDP) and hears the span's in-band progress (or the ring tone on
-- a bare ALERTING), then the answer (200 OK) once the span connects. nil
-- for a trunk that cannot be dialed (a SIP peer without a host).
function M.target(trunk, dialed)
  if type(trunk.interface) == "string" and trunk.interface ~= "" then
    local tech, rest = trunk.interface:match("^([^/]+)/(.+)$")
    if not tech then return nil end
    tech = tech:lower()
    return tech .. "/" .. rest .. "/" .. dialed .. (trunk.interface_suffix or ""), tech == "dahdi"
  end
  if trunk.host and trunk.host ~= "" and trunk.host ~= "dynamic" then
    return "sip/sip:" .. dialed .. "@" .. trunk.host, false
  end
  return nil
end

-- The caller's media into the engine for a trunk that needs it: early
-- media when its backend has it, else the answer. A call given early media
-- is answered before a SIP trunk (whose offer is then the engine's).
local function prepare_media(call, needs_engine, early)
  if needs_engine then
    if early or call:progress() then return true, true end
  elseif not early then
    return true, false
  end
  local ok, why = call:answer()
  return ok, false, why
end

-- Dials `dialed` through the trunks of `outcall` for `call`; `user` is the
-- calling user (may be nil).
function M.dial(call, outcall, pattern, dialed, user)
  local vars = call.vars
  local cid = callerid.outgoing({ name = call.caller_name, number = call.caller_number }, user,
                                outcall, pattern)
  vars.XIVO_OUTCALLID = tostring(outcall.id)
  vars.XIVO_BASE_EXTEN = call.called_number
  vars.XIVO_DSTNUM = call.called_number
  vars.XIVO_CALLOPTIONS = vars.XIVO_CALLOPTIONS or ""
  vars.XIVO_OUTCALL_NUMBER = dialed
  call.caller_id = cid
  subroutines.run("outcall", outcall.preprocess_subroutine, call)
  dialed = vars.XIVO_OUTCALL_NUMBER

  local ring = tonumber(outcall.ring_time)
  if not ring or ring <= 0 then ring = M.default_ring_time end
  local last = { status = "unavailable", code = 503 }
  local early = false  -- the caller has early media from the engine, unanswered
  for _, trunk in ipairs(outcall.trunks or {}) do
    local target, needs_engine = M.target(trunk, dialed)
    local ready = true
    if target then
      local why
      ready, early, why = prepare_media(call, needs_engine, early)
      if not ready then
        dialtone.log("warn", string.format("call %s: trunk %s (%s) needs the call's media in the engine: %s",
                                           tostring(call.id), tostring(trunk.id), tostring(trunk.interface),
                                           tostring(why)))
        last = { status = "unavailable", code = 503 }
      end
    end
    if target and ready then
      local outcome = call:dial({ target, timeout = ring, caller_number = cid.number,
                                  caller_name = cid.name, anonymous = cid.anonymous })
      call.dial_status = outcome.status
      vars.XIVO_DIALSTATUS = outcome.status
      -- The span connected: now the caller is answered (200 OK).
      if outcome.status == "answered" and early then call:answer() end
      if outcome.status == "answered" or outcome.status == "cancel" then
        return { action = "done" }
      end
      last = outcome
      if not M.failover(outcome) then break end
      dialtone.log("info", string.format("call %s: trunk %s failed (%s %s), trying the next one",
                                         tostring(call.id), tostring(trunk.id), outcome.status,
                                         tostring(outcome.code)))
    end
  end
  local code = tonumber(last.code) or 503
  if last.status == "busy" then code = 486 end
  -- The provider refused Dialtone's credentials: a challenge relayed to the
  -- caller would ask it for credentials it does not have.
  if code == 401 or code == 407 then code = 403 end
  if code < 400 or code > 699 then code = 503 end
  return { action = "reject", code = code, status = code, reason = last.status }
end

return M
