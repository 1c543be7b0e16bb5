* stata-mcp research record, step 5 (failed_to_start)
*| time: 2026-12-07T21:30:24Z
*| session: batch
*| cwd: /work/main
*| cd: yes
*| duration-s: 0.015
*| status: failed_to_start
*| error: Stata did not start: License is invalid. Stata's licence is missing or invalid on this machine: run Stata once by hand to see its licence message, or re-run its licence initialisation (stinit).
*| run: 20261207-213024-17670-0
*| random: no
*| seeded: no
display 1
