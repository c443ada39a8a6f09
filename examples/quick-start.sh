npm ci           # installs and builds (the `prepare` script runs `npm run build`)
npx ckaad demo   # generates a synthetic defect set, trains Recon and CKAPatch, scores, writes heat maps
npm test         # the test suite (CI runs it after lint, typecheck and build)
