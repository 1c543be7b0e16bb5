* stata-mcp research record, step 9 (failed_to_start)
*| time: 2026-12-07T21:35:31Z
*| session: batch
*| cwd: /work/main
*| cd: yes
*| duration-s: 0.009
*| status: failed_to_start
*| error: Stata did not start: License is invalid. Stata's licence is missing or invalid on this machine: run Stata once by hand to see its licence message, or re-run its licence initialisation (stinit).
*| run: 20261207-213531-27748-0
*| random: no
*| seeded: no
display 1
