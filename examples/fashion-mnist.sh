FM="--dataset fashion-mnist --root /usr/share/datasets/fashion-mnist --normal-class 0"
TRAIN="--anomaly-class Shirt --ratio 0.05 --k 1 --image-size 64 --max-normal 1000 --epochs 4 --batch-size 16"
npx ckaad train $FM $TRAIN --strategy Recon --model models/recon
npx ckaad train $FM $TRAIN --strategy CKAPatch --model models/ckapatch
npx ckaad eval $FM --model models/recon --model models/ckapatch --max-test 2000 --out results
