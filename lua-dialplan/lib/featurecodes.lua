-- The feature codes in force, by XiVO feature name: what confd stores
-- (/1.1/extensions/features, read from the configuration snapshot on each
-- call, so a change applies to the next call without a reload), or XiVO's
-- default where api.confd is not loaded. nil: the administrator turned the
-- feature off, and its code is dialed like any other number.
--
--   featurecodes.code("fwdunc")   --> "*21"
--   featurecodes.rest("fwdunc", "*211002") --> "1002"
local M = {}

-- XiVO's defaults (sdk::kDefaultFeatureExtensions) of the features the
-- dialplan answers; the echo test is no XiVO feature extension.
M.defaults = {
  fwdunc = "*21", fwdrna = "*22", fwdbusy = "*23", fwdundoall = "*20",
  enablednd = "*25", incallfilter = "*27", callrecord = "*26", bsfilter = "*37",
  vmusermsg = "*98", vmboxmsgslt = "*99", vmuserslt = "*96", vmboxslt = "*97",
  enablevm = "*90", enablevmslt = "*90", cctoggle = "*40", pickup = "*8",
  paging = "*11", autoprov = "*48378", recsnd = "*9", phonestatus = "*10",
  groupmembertoggle = "*50", groupmemberjoin = "*51", groupmemberleave = "*52",
}

-- The codes read once per call (each call runs in its own coroutine) rather
-- than once per feature tried: a call to an extension tries some twenty.
local per_call = setmetatable({}, { __mode = "k" })

function M.code(feature)
  if config and config.feature_codes then
    local co, main = coroutine.running()
    if main then return config.feature_codes()[feature] end
    local codes = per_call[co]
    if not codes then
      codes = config.feature_codes()
      per_call[co] = codes
    end
    return codes[feature]
  end
  if config and config.feature_code then return config.feature_code(feature) end
  return M.defaults[feature]
end

-- The rest of `number` after `feature`'s code ("" for the code alone), or
-- nil when `number` does not start with it or the feature is off.
function M.rest(feature, number)
  local c = M.code(feature)
  if not c or c == "" or number:sub(1, #c) ~= c then return nil end
  return number:sub(#c + 1)
end

return M
