* stata-mcp research record, step 7 (failed_to_start)
*| time: 2026-12-07T21:31:53Z
*| session: batch
*| cwd: /work/main
*| cd: yes
*| duration-s: 0.009
*| status: failed_to_start
*| error: Stata did not start: License is invalid. Stata's licence is missing or invalid on this machine: run Stata once by hand to see its licence message, or re-run its licence initialisation (stinit).
*| run: 20261207-213153-20505-0
*| random: no
*| seeded: no
display 1
