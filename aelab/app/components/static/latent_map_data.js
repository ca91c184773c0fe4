// aelab latent map, part 3: the map's shared data, and the map's code for its own element.
//
// A map's heavy data (points, labels, the decoder's weights, the hole map) changes only with
// the model, so Python sends it in elements of its own whose data is the same on every run:
// Streamlit sends such an element once and then only a reference to it, and each probe
// release carries just the map's small per-run payload. Each element's default export below
// parses its part once into a registry shared by every map on the page; a map waits for the
// parts its payload names (sharedPart, SHARED_EVENT). This module also carries the map's code
// (parts 1 and 2), which the map element's own small module mounts (latent_map_mount.js).

const SHARED_EVENT = "aelab-shared-data";
const MAX_SHARED = 32;  // parts kept: four maps of two parts each, with room for the models just left
const SHARED = (window.__aelabShared ||= new Map());  // part id -> its fields, oldest first

function sharedPart(id) {
  const part = SHARED.get(id);
  if (part) {  // in use: move it to the newest end so it is evicted last
    SHARED.delete(id);
    SHARED.set(id, part);
  }
  return part;
}

window.__aelabLatentMap = { mount: mountMap };
window.dispatchEvent(new Event("aelab-latent-map-ready"));

// The element of one shared part: its data is the bytes of {"id": ..., "fields": {...}}.
export default function ({ data, parentElement }) {
  if (!data || parentElement.__aelabPart === data) return;  // the same bytes again: nothing to do
  parentElement.__aelabPart = data;
  const { id, fields } = JSON.parse(new TextDecoder().decode(data));
  if (!sharedPart(id)) SHARED.set(id, fields);
  while (SHARED.size > MAX_SHARED) SHARED.delete(SHARED.keys().next().value);
  window.dispatchEvent(new CustomEvent(SHARED_EVENT, { detail: { id } }));
}
