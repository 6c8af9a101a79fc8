/** Kubernetes resource quantities as numbers: cores for CPU, bytes for memory and storage. */

const SUFFIXES: Record<string, number> = {
    "": 1, m: 1e-3,
    k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A CPU quantity: whole or decimal cores, or millicores (`250m`, `0.5`, `2`). */
export const CPU_QUANTITY = /^[0-9]+(\.[0-9]+)?m?$/;
/** A byte quantity (`512Mi`, `5Gi`, `1G`): no `m`, which Kubernetes would read as thousandths of a byte. */
export const BYTE_QUANTITY = /^[0-9]+(\.[0-9]+)?(k|Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)?$/;

/** The value of a quantity in base units (`250m` → 0.25, `1Gi` → 1073741824). */
export function parseQuantity(quantity: string): number {
    const match = /^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$/.exec(quantity);
    if (!match || !(match[2] in SUFFIXES)) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(quantity)}`);
    return Number(match[1]) * SUFFIXES[match[2]];
}
