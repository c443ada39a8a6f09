npm ci            # installs and builds (prepare)
npm run lint && npm run typecheck
npm test          # vitest + fast-check
npm run bench     # benchmark tables (printed, and JSON in bench/results/latest.json)
npm run docs      # API reference (typedoc) in docs/api
