-- wrk script: every request holds two distinct seats (a fresh pair each time) in one of the
-- benchmark's shows, as one of many users. Filled in by bench/holds.sh: TOKENS, SHOWS, HALL.
local counter = 0
local thread_no = 0
local threads = 0

function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end

function init(args)
  counter = thread_no * 1000003
end

request = function()
  counter = counter + 1
  local pair = counter % 5000            -- 100 rows x 50 pairs
  local row = math.floor(pair / 50)
  local seat = (pair % 50) * 2 + 1
  local show = SHOWS[(math.floor(counter / 5000) % #SHOWS) + 1]
  local token = TOKENS[(counter % #TOKENS) + 1]
  local label = string.format("R%02d", row)
  local body = string.format('{"seat_ids":["%s_%s%d","%s_%s%d"]}', HALL, label, seat, HALL, label, seat + 1)
  return wrk.format("POST", "/api/v1/shows/" .. show .. "/holds",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
