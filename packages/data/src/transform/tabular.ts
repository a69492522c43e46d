/**
 * The transform side of tabular preprocessing (scikit-learn's StandardScaler + OneHotEncoder
 * `transform`): one compiled encoder per feature, used cell by cell both when a loader encodes the
 * training data and when the server encodes a request's named features, so the two cannot drift.
 */
import type { CategoricalFeature, Feature, NumericFeature, TabularInput } from '@tuneserve/client';
import { FieldError } from '../errors.js';

/** A cell as a loader or a request holds it: a number, a category string, or missing (null/undefined/NaN). */
export type CellValue = number | string | null | undefined;

export interface FeatureEncoder {
  readonly feature: Feature;
  /** Values this feature takes in the model's input vector. */
  readonly width: number;
  /**
   * Writes the encoding of `value` at out[offset..offset+width). Missing values take the feature's
   * impute value; throws FieldError for a missing value without one, a non-numeric value of a
   * numeric feature, or an unknown category without an "other" slot.
   */
  write(value: CellValue, out: Float32Array, offset: number, row?: number): void;
}

function isMissing(value: CellValue): value is null | undefined {
  return value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value));
}

function numericEncoder(f: NumericFeature): FeatureEncoder {
  const scale = 1 / f.std;
  return {
    feature: f,
    width: 1,
    write(value, out, offset, row) {
      let v: number;
      if (isMissing(value)) {
        if (f.impute === undefined) throw new FieldError(f.name, 'missing (a number is required)', row);
        v = f.impute;
      } else if (typeof value === 'number') {
        v = value;
      } else {
        // Strings that are whole numbers are accepted: CSV batches and HTML forms send text.
        v = value.trim() === '' ? Number.NaN : Number(value);
        if (Number.isNaN(v)) throw new FieldError(f.name, `expected a number, got ${JSON.stringify(value)}`, row);
      }
      if (!Number.isFinite(v)) throw new FieldError(f.name, `expected a finite number, got ${String(v)}`, row);
      // Loaders hold raw values as float32; rounding here too makes training and serving bit-identical.
      out[offset] = (Math.fround(v) - f.mean) * scale;
    },
  };
}

function categoricalEncoder(f: CategoricalFeature): FeatureEncoder {
  const index = new Map(f.categories.map((c, i) => [c, i] as const));
  const width = f.categories.length + (f.other ? 1 : 0);
  const imputed = f.impute === undefined ? undefined : index.get(f.impute);
  return {
    feature: f,
    width,
    write(value, out, offset, row) {
      out.fill(0, offset, offset + width);
      let slot: number | undefined;
      if (isMissing(value)) {
        if (f.impute === undefined) throw new FieldError(f.name, 'missing (a category is required)', row);
        slot = imputed ?? (f.other ? f.categories.length : undefined);
      } else {
        // Numbers are taken as their text: a column of codes such as 1, 2, 3 read as categories.
        const key = typeof value === 'number' ? String(value) : value.trim();
        slot = index.get(key);
        if (slot === undefined && f.other) slot = f.categories.length;
        if (slot === undefined) {
          const shown = f.categories.slice(0, 10).map((c) => JSON.stringify(c));
          const more = f.categories.length > 10 ? `, ... (${f.categories.length} in all)` : '';
          throw new FieldError(
            f.name,
            `unknown category ${JSON.stringify(key)} (expected one of ${shown.join(', ')}${more})`,
            row,
          );
        }
      }
      if (slot !== undefined) out[offset + slot] = 1;
    },
  };
}

export function featureEncoder(feature: Feature): FeatureEncoder {
  return feature.type === 'number' ? numericEncoder(feature) : categoricalEncoder(feature);
}

export interface TabularEncoder {
  readonly schema: TabularInput;
  readonly features: readonly FeatureEncoder[];
  /** Offset of each feature's encoding in the model's input vector. */
  readonly offsets: readonly number[];
  /** Length of the model's input vector. */
  readonly width: number;
}

const compiled = new WeakMap<TabularInput, TabularEncoder>();

/** The encoders of a schema, compiled once per schema object. */
export function tabularEncoder(schema: TabularInput): TabularEncoder {
  let enc = compiled.get(schema);
  if (!enc) {
    const features = schema.features.map(featureEncoder);
    const offsets: number[] = [];
    let width = 0;
    for (const f of features) {
      offsets.push(width);
      width += f.width;
    }
    enc = { schema, features, offsets, width };
    compiled.set(schema, enc);
  }
  return enc;
}

/** Length of the input vector a tabular schema produces. */
export function encodedWidth(schema: TabularInput): number {
  return tabularEncoder(schema).width;
}

/**
 * Encodes named-feature records (a request's `instances`) into rows of the model's input, row-major.
 * Throws FieldError naming the field (and the instance) for a missing, extra, mistyped or unknown value.
 */
export function encodeRows(schema: TabularInput, rows: readonly Record<string, unknown>[]): Float32Array {
  const enc = tabularEncoder(schema);
  const out = new Float32Array(rows.length * enc.width);
  const known = new Set(schema.features.map((f) => f.name));
  rows.forEach((record, r) => {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new FieldError('instances', `instance ${r} must be an object of named features`);
    }
    for (const key of Object.keys(record)) {
      if (!known.has(key)) {
        throw new FieldError(key, `unknown field (the model takes ${[...known].join(', ')})`, r);
      }
    }
    enc.features.forEach((f, i) => {
      const value = record[f.feature.name];
      if (value !== undefined && value !== null && typeof value !== 'number' && typeof value !== 'string') {
        throw new FieldError(
          f.feature.name,
          `expected a ${f.feature.type === 'number' ? 'number' : 'string'}, got ${typeof value === 'object' ? (Array.isArray(value) ? 'an array' : 'an object') : typeof value}`,
          r,
        );
      }
      f.write(value as CellValue, out, r * enc.width + enc.offsets[i]!, r);
    });
  });
  return out;
}

/**
 * The inverse of encodeRows for one encoded row: each feature's raw value (numbers de-standardised to 6
 * significant digits, categories by their hot slot; the "other" slot reads back as "other"). Used to show a test
 * example as the named values a person would type.
 */
export function decodeRow(schema: TabularInput, values: ArrayLike<number>): Record<string, number | string> {
  const enc = tabularEncoder(schema);
  if (values.length !== enc.width) {
    throw new RangeError(`an encoded row of this schema has ${enc.width} values, got ${values.length}`);
  }
  const row: Record<string, number | string> = {};
  enc.features.forEach(({ feature, width }, i) => {
    const at = enc.offsets[i]!;
    if (feature.type === 'number') {
      row[feature.name] = Number((values[at]! * feature.std + feature.mean).toPrecision(6));
      return;
    }
    let slot = 0;
    for (let k = 1; k < width; k++) if (values[at + k]! > values[at + slot]!) slot = k;
    row[feature.name] = feature.categories[slot] ?? 'other';
  });
  return row;
}
