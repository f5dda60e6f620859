/**
 * Where a script would loop forever. relocation.py and segmentation.py draw
 * a random base until the segment fits; given sizes where none fits, the
 * Python never ends. vmlab stops at once and says why instead (the one place
 * where it does not do what the script does; docs/ostep.md).
 */

/** The script can never end from here: runOstep prints the reason and exits with 2. */
export class LoopsForever {
  constructor(readonly message: string) {}
}

/** Ends the run: no draw can ever place the segment. */
export function noRoomError(script: string, what: string): never {
  throw new LoopsForever(
    `${script} would loop forever here: no random value of ${what} fits in physical memory with these sizes`,
  );
}
