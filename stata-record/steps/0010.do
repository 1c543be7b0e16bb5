* stata-mcp research record, step 10 (cancelled)
*| time: 2026-12-07T21:35:56Z
*| session: main
*| cwd: /work/main
*| cd: no
*| duration-s: 0.027
*| status: cancelled
*| random: no
*| seeded: no
display 1
