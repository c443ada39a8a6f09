/**
 * The description every dataset reader returns: which files form the training, test and
 * (when the layout has one) validation splits, with a binary label relative to the
 * chosen normal class, the sample's class name, and the ground-truth mask when there is
 * one. Readers only list files; decoding happens later (see `decodeStream`).
 */

/** 0 = normal, 1 = anomalous. */
export type Label = 0 | 1;

/** Anything with a class name and a binary label (files and in-memory samples alike). */
export interface LabelledItem {
  /** 0 when `className` is the dataset's normal class, else 1. */
  label: Label;
  /**
   * The sample's class: the diagnosis for medical sets (`'NORMAL'`, `'PNEUMONIA'`), the
   * defect type for industrial sets (`'good'`, `'scratch'`).
   */
  className: string;
}

/** One image file of a dataset. */
export interface ImageSample extends LabelledItem {
  /** Path of the image file. */
  path: string;
  /** Path of its ground-truth mask (pixel-level datasets, anomalous test images only). */
  maskPath?: string;
}

/** A dataset as listed by a reader. */
export interface DatasetDescription<T extends LabelledItem = ImageSample> {
  /** Short name of the reader, e.g. `'mvtec-ad'`, `'chest-xray'`. */
  name: string;
  /** The root folder the reader was given. */
  root: string;
  /** Object category for per-category sets (MVTec AD, VisA). */
  category?: string;
  /** The class treated as normal (label 0). */
  normalClass: string;
  /** Every class of the dataset, in the dataset's canonical order. */
  classes: readonly string[];
  /** Training samples (all classes for medical sets; normal only for MVTec AD / VisA). */
  train: T[];
  /** Test samples. */
  test: T[];
  /** A separate validation split when the layout provides one. */
  validation?: T[];
}

/** Label of `className` when `normalClass` is the normal class. */
export function labelFor(className: string, normalClass: string): Label {
  return className === normalClass ? 0 : 1;
}
