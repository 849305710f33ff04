/** `image:tag`, validated the way the engine reads it (no tag = `latest`). */
export function imageReference(image: string, tag?: string): string {
  const reference = tag ? `${image}:${tag}` : image;
  if (!/^[a-z0-9][a-z0-9._/:@-]*$/i.test(reference) || reference.includes("..")) {
    throw new Error(`Invalid image reference "${reference}"`);
  }
  return reference;
}
