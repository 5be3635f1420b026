// Reads a zip archive's central directory (the name and size of every entry), and the
// sizes of the shots a fake serves, to compare with.

/**
 * @param {Buffer} bytes a whole zip archive (no comment)
 * @returns {[string, number][]} `[name, uncompressed size]` per entry, in order
 */
export function zipEntries(bytes) {
  const end = bytes.length - 22;
  if (bytes.readUInt32LE(end) !== 0x06054b50) throw new Error('no end-of-central-directory record');
  let at = bytes.readUInt32LE(end + 16);
  const entries = [];
  for (let i = 0; i < bytes.readUInt16LE(end + 10); i += 1) {
    const nameLength = bytes.readUInt16LE(at + 28);
    entries.push([bytes.subarray(at + 46, at + 46 + nameLength).toString(), bytes.readUInt32LE(at + 24)]);
    at += 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
  }
  return entries;
}

/**
 * The byte sizes of the fake's sample shots 1..count, as it serves them.
 * @param {string} fakeUrl the fake WaveSpeed's base URL
 */
export async function servedShotSizes(fakeUrl, count = 3) {
  return Promise.all(Array.from({ length: count }, async (_, i) => (await (await fetch(`${fakeUrl}/outputs/shot-${i + 1}.mp4`)).arrayBuffer()).byteLength));
}
