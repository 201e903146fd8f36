-- wrk script: every request holds two distinct seats (a fresh pair each time) in one of the
-- benchmark's shows, as one of many users. Filled in by bench/holds.sh: TOKENS, SHOWS, HALL,
-- ROWS (the hall's rows of 100 seats), IDEM (true: every request carries its own Idempotency-Key,
-- as a careful client's would).
local counter = 0
-- thread_no is a global on purpose: setup's thread:set writes the thread's global, which a
-- `local thread_no` here would hide (then every thread sent the same request sequence).
thread_no = 0
local threads = 0
local all_threads = {}

function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
  table.insert(all_threads, thread)
end

-- Each thread starts half the shows after the previous one, so two threads do not walk the same
-- show's seats in step (with 1000003, thread 1 ran 3 pairs ahead of thread 0 in the same show and
-- thread 0 met 409 for almost every request).
function init(args)
  counter = thread_no * ROWS * 50 * math.floor(#SHOWS / 2)
end

request = function()
  counter = counter + 1
  local pairs = ROWS * 50                -- rows x 50 pairs
  local pair = counter % pairs
  local row = math.floor(pair / 50)
  local seat = (pair % 50) * 2 + 1
  local show = SHOWS[(math.floor(counter / pairs) % #SHOWS) + 1]
  local token = TOKENS[(counter % #TOKENS) + 1]
  local label = string.format("R%02d", row)
  local body = string.format('{"seat_ids":["%s_%s%d","%s_%s%d"]}', HALL, label, seat, HALL, label, seat + 1)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
  if IDEM then
    headers["Idempotency-Key"] = string.format("bench-%d-%d", thread_no, counter)
  end
  return wrk.format("POST", "/api/v1/shows/" .. show .. "/holds", headers, body)
end

statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

-- One line "status 201=N 409=M ..." summed over the threads (bench/holds.sh greps it).
function done(summary, latency, requests)
  local sum = {}
  for _, t in ipairs(all_threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      sum[code] = (sum[code] or 0) + n
    end
  end
  local codes = {}
  for code in pairs(sum) do table.insert(codes, code) end
  table.sort(codes)
  local line = "status"
  for _, code in ipairs(codes) do line = line .. string.format(" %d=%d", code, sum[code]) end
  print(line)
end
