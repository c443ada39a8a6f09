npx ckaad train --dataset mvtec --root ./mvtec_anomaly_detection --category bottle \
  --backbone wide_resnet50_2 --weights ./wide_resnet50_2.safetensors --lr 5e-3 --micro-batches 16 --model models/bottle
npx ckaad eval --model models/bottle --dataset mvtec --root ./mvtec_anomaly_detection --category bottle
npx ckaad score --model models/bottle ./new-photos
