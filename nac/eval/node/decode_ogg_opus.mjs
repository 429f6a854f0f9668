// Decode an Ogg Opus file with libopus' neural post-filter (LACE / NoLACE) through the npm
// packages ogg-opus-decoder + @wasm-audio-decoders/opus-ml (see scripts/install_lace.sh).
//   NAC_LACE_DIR=DIR node decode_ogg_opus.mjs IN.ogg OUT.f32 lace|nolace|none RATE
// Writes mono float32 little-endian samples at RATE; prints nothing on success. The packages are
// imported from DIR/node_modules by path (ES modules ignore NODE_PATH).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const entry = join(process.env.NAC_LACE_DIR, "node_modules", "ogg-opus-decoder", "index.js");
const { OggOpusDecoder } = await import(pathToFileURL(entry).href);

const [input, output, enhancement, rate] = process.argv.slice(2);
const decoder = new OggOpusDecoder({ speechQualityEnhancement: enhancement, sampleRate: Number(rate) });
await decoder.ready;
const { channelData, samplesDecoded, errors } = await decoder.decodeFile(new Uint8Array(readFileSync(input)));
decoder.free();
if (errors.length) {
  console.error(`decode_ogg_opus: ${errors.length} decode error(s): ${errors[0].message}`);
  process.exit(1);
}
const mono = channelData[0].subarray(0, samplesDecoded);
writeFileSync(output, Buffer.from(mono.buffer, mono.byteOffset, mono.byteLength));
