# Sourced by the shell test suites (tests/windows/run.sh, tests/ship/run.sh): one case runner.
# The suite sets ROOT and LOGS and starts with passed=0 failed=0 failures=(); CASE_WIDTH sets the
# width of the name column.

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# case_run NAME COMMAND...: runs the command with its output in $LOGS/NAME.log and prints one
# line (ok/FAIL, time, the log's last line); on failure also the log's last 15 lines.
case_run() {
  local name=$1; shift
  local log=$LOGS/${name//\//_}.log t0 rc
  t0=$(now_ms)
  "$@" >"$log" 2>&1
  rc=$?
  local ms=$(( $(now_ms) - t0 ))
  local summary
  summary=$(tr -d '\r' <"$log" | grep -v '^$' | tail -1 | cut -c1-100)
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1))
    printf "ok    %-${CASE_WIDTH:-40}s %6d ms  %s\n" "$name" "$ms" "$summary"
  else
    failed=$((failed + 1)); failures+=("$name")
    printf "FAIL  %-${CASE_WIDTH:-40}s %6d ms  exit %d, log %s\n" "$name" "$ms" "$rc" "${log#$ROOT/}"
    tr -d '\r' <"$log" | tail -15 | sed 's/^/      /'
  fi
  return $rc
}
