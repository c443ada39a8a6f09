npm install ckaad @tensorflow/tfjs-core
