// Short import and export names for a wasm module and its wasm-bindgen glue.
//
// wasm-bindgen names each import after its Rust path and a hash
// (`__wbg_new_with_u8_array_sequence_and_options_ca80bf9b8bbc67cf`), all from the module
// "./<crate>_bg.js": about 13 KB of names that the page loads twice — in the wasm's
// import section and as the keys of the glue's import object. `shortenImports` renames
// both to short names (module "w", imports "a", "b", … "aA", …). Nothing else in either
// file names an import, and every name must be found exactly once in the glue, or
// nothing is renamed.
//
// Binaryen's --minify-imports renames only Emscripten's own modules, so the import
// section is rewritten here: it is a list of (module, name, kind, descriptor), and only
// the two names change.

/** Reads an unsigned LEB128 at `at`: [value, next offset]. */
function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

/** Writes an unsigned LEB128. */
function toLeb(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

/** Where a limits descriptor (table or memory) ends. */
function limitsEnd(bytes, at) {
  const flags = bytes[at++];
  [, at] = leb(bytes, at);
  if (flags & 1) [, at] = leb(bytes, at);
  return at;
}

/** The `n`th short name: a … z, A … Z, then longer ones (never a digit first). */
export function shortName(n) {
  const first = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const rest = `${first}0123456789_$`;
  let name = first[n % first.length];
  n = Math.floor(n / first.length);
  while (n > 0) {
    n -= 1;
    name += rest[n % rest.length];
    n = Math.floor(n / rest.length);
  }
  return name;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** A name as the binary format writes it: its length, then its UTF-8 bytes. */
const nameBytes = (name) => {
  const bytes = encoder.encode(name);
  return [...toLeb(bytes.length), ...bytes];
};

/** Reads a name at `at`: [name, next offset]. */
function readName(bytes, at) {
  const [len, from] = leb(bytes, at);
  return [decoder.decode(bytes.subarray(from, from + len)), from + len];
}

/**
 * `wasm` with its section `id` rewritten entry by entry: `entry(wasm, at)` reads one
 * entry at `at` and returns [its new bytes, the offset after it]. Unchanged when the
 * module has no such section.
 */
function rewriteSection(wasm, id, entry) {
  if (wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) throw new Error('not a wasm module');
  let at = 8;
  while (at < wasm.length) {
    const [size, contentAt] = leb(wasm, at + 1);
    const end = contentAt + size;
    if (wasm[at] !== id) {
      at = end;
      continue;
    }
    let [count, p] = leb(wasm, contentAt);
    const out = [...toLeb(count)];
    for (let i = 0; i < count; i += 1) {
      const [bytes, next] = entry(wasm, p);
      out.push(...bytes);
      p = next;
    }
    if (p !== end) throw new Error(`section ${id} did not end where it says`);
    const section = [id, ...toLeb(out.length), ...out];
    const result = new Uint8Array(at + section.length + (wasm.length - end));
    result.set(wasm.subarray(0, at));
    result.set(section, at);
    result.set(wasm.subarray(end), at + section.length);
    return result;
  }
  return wasm;
}

/**
 * The wasm's imports renamed by `rename(module, name) → [module, name]`.
 * @param {Uint8Array} wasm
 * @returns {{ wasm: Uint8Array, imports: { module: string, name: string }[] }}
 */
export function renameImports(wasm, rename) {
  const imports = [];
  const result = rewriteSection(wasm, 2, (bytes, at) => {
    const [module, afterModule] = readName(bytes, at);
    let [name, p] = readName(bytes, afterModule);
    const descriptorAt = p;
    const kind = bytes[p++];
    if (kind === 0) [, p] = leb(bytes, p); // function: its type
    else if (kind === 1) p = limitsEnd(bytes, p + 1); // table: element type, limits
    else if (kind === 2) p = limitsEnd(bytes, p); // memory: limits
    else if (kind === 3) p += 2; // global: value type, mutability
    else if (kind === 4) [, p] = leb(bytes, p + 1); // tag: attribute, type
    else throw new Error(`import ${module} ${name} has an unknown kind ${kind}`);
    imports.push({ module, name });
    const [newModule, newName] = rename(module, name);
    return [[...nameBytes(newModule), ...nameBytes(newName), ...bytes.subarray(descriptorAt, p)], p];
  });
  return { wasm: result, imports };
}

/**
 * The wasm's exports renamed by `rename(name) → name` (unchanged when it returns it).
 * @param {Uint8Array} wasm
 * @returns {Uint8Array}
 */
export function renameExports(wasm, rename) {
  return rewriteSection(wasm, 7, (bytes, at) => {
    const [name, descriptorAt] = readName(bytes, at);
    const [, end] = leb(bytes, descriptorAt + 1); // kind, then index
    return [[...nameBytes(rename(name)), ...bytes.subarray(descriptorAt, end)], end];
  });
}

/** `name` as a whole word in JavaScript text (not part of a longer identifier). */
const word = (name) => new RegExp(`(?<![A-Za-z0-9_$])${name.replace(/\$/g, '\\$')}(?![A-Za-z0-9_$])`, 'g');
/** `name` read as a property: `.name`, not followed by more of an identifier. */
const property = (name) => new RegExp(`\\.${name.replace(/\$/g, '\\$')}(?![A-Za-z0-9_$])`, 'g');

/**
 * Renames every import of `wasm` to a short name, in the wasm and in its `glue` (whose
 * import object has each name once, as a key followed by `:`), and then the long export
 * names the glue reads only as properties (`.name`).
 * @param {Uint8Array} wasm
 * @param {string} glue
 * @returns {{ wasm: Uint8Array, glue: string, saved: number }}
 */
export function shortenImports(wasm, glue) {
  const names = new Map();
  const modules = new Map();
  const { wasm: renamed, imports } = renameImports(wasm, (module, name) => {
    if (!modules.has(module)) modules.set(module, modules.size === 0 ? 'w' : `w${modules.size}`);
    const key = `${module}\u0000${name}`;
    if (!names.has(key)) names.set(key, shortName(names.size));
    return [modules.get(module), names.get(key)];
  });
  let out = glue;
  const once = (from, to) => {
    const parts = out.split(from);
    if (parts.length !== 2) throw new Error(`the glue names ${from} ${parts.length - 1} times, not once`);
    out = parts.join(to);
  };
  for (const { module, name } of imports) once(`${name}:`, `${names.get(`${module}\u0000${name}`)}:`);
  for (const [module, short] of modules) once(JSON.stringify(module), JSON.stringify(short));
  // The renamed module is a valid one with the same imports, in order, short-named.
  const before = WebAssembly.Module.imports(new WebAssembly.Module(wasm));
  const after = WebAssembly.Module.imports(new WebAssembly.Module(renamed));
  const same = before.length === after.length && before.every((b, i) => b.kind === after[i].kind && names.get(`${b.module}\u0000${b.name}`) === after[i].name && modules.get(b.module) === after[i].module);
  if (!same) throw new Error('the renamed module does not import the same things');

  // Exports: wasm-bindgen's long names (`__wbindgen_malloc`, the closure shims'
  // `wasm_bindgen_…___convert__closures_____invoke___…`) that the glue reads only as
  // properties of the module's exports (`.name`), each renamed `$a`, `$b`, …; short or
  // unread ones (memory, main) are left as they are.
  const exportNames = WebAssembly.Module.exports(new WebAssembly.Module(renamed)).map((e) => e.name);
  const shortExports = new Map();
  for (const name of exportNames) {
    if (name.length < 10) continue;
    const uses = (out.match(word(name)) ?? []).length;
    const asProperty = (out.match(property(name)) ?? []).length;
    if (uses > 0 && uses === asProperty) shortExports.set(name, `$${shortName(shortExports.size)}`);
  }
  const final = renameExports(renamed, (name) => shortExports.get(name) ?? name);
  for (const [name, short] of shortExports) out = out.replace(property(name), `.${short}`);
  const exported = WebAssembly.Module.exports(new WebAssembly.Module(final)).map((e) => e.name);
  const sameExports = exported.length === exportNames.length && exportNames.every((n, i) => (shortExports.get(n) ?? n) === exported[i]);
  if (!sameExports || [...shortExports.keys()].some((n) => word(n).test(out))) throw new Error('the exports were not renamed consistently');
  return { wasm: final, glue: out, saved: wasm.length - final.length + glue.length - out.length };
}

/**
 * `wasm` without the exports `drop(name)` picks (a later wasm-opt drops what only they
 * reached), and their names.
 * @param {Uint8Array} wasm
 * @param {(name: string) => boolean} drop
 * @returns {{ wasm: Uint8Array, dropped: string[] }}
 */
export function dropExports(wasm, drop) {
  const dropped = [];
  let count = 0;
  let at = 8;
  // The section's entry count changes too: rewritten here rather than entry by entry.
  while (at < wasm.length) {
    const [size, contentAt] = leb(wasm, at + 1);
    const end = contentAt + size;
    if (wasm[at] !== 7) {
      at = end;
      continue;
    }
    let [total, p] = leb(wasm, contentAt);
    const kept = [];
    for (let i = 0; i < total; i += 1) {
      const [name, descriptorAt] = readName(wasm, p);
      const [, next] = leb(wasm, descriptorAt + 1);
      if (drop(name)) dropped.push(name);
      else {
        kept.push(...wasm.subarray(p, next));
        count += 1;
      }
      p = next;
    }
    const body = [...toLeb(count), ...kept];
    const section = [7, ...toLeb(body.length), ...body];
    const result = new Uint8Array(at + section.length + (wasm.length - end));
    result.set(wasm.subarray(0, at));
    result.set(section, at);
    result.set(wasm.subarray(end), at + section.length);
    return { wasm: result, dropped };
  }
  return { wasm, dropped };
}
