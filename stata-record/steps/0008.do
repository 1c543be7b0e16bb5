* stata-mcp research record, step 8 (cancelled)
*| time: 2026-12-07T21:32:19Z
*| session: main
*| cwd: /work/main
*| cd: no
*| duration-s: 0.028
*| status: cancelled
*| random: no
*| seeded: no
display 1
