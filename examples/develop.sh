npm ci            # installs and builds (prepare)
npm run lint && npm run typecheck
npm test          # vitest + fast-check
npm run test:browser  # headless Chromium (Debian's chromium): bundles, scores vs Node, the web page
npm run web       # the web page on http://127.0.0.1
npm run bench     # benchmark tables (printed, and JSON in bench/results/latest.json)
npm run docs      # API reference (typedoc) in docs/api
