* stata-mcp research record, step 2 (cancelled)
*| time: 2026-12-07T21:26:25Z
*| session: main
*| cwd: /work/main
*| cd: no
*| duration-s: 0.026
*| status: cancelled
*| random: no
*| seeded: no
display 1
