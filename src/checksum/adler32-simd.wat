;; adler32 (RFC 1950) with WebAssembly SIMD, after zlib's adler32_simd.c.
;; Compiled by tools/gen-wasm.ts into adler32-simd.wasm.ts; adler32.ts is the only user.
;;
;; update(adler, ptr, len) -> adler
;;   adler: the running value, packed as zlib packs it, (b << 16) | a, each < 65521
;;          (1 to start a standard checksum).
;;   ptr, len: the bytes, in this module's memory (the caller copies them in).
;;   Returns the new packed value (as i32; the caller reads it unsigned).
;;
;; Why the sums stay exact: a and b are reduced mod 65521 only once per chunk
;; of at most NMAX = 5552 bytes, the largest n with
;; 255*n*(n+1)/2 + (n+1)*(65521-1) < 2^32 (zlib), so b stays within 32 bits
;; over a chunk, and so does each of the parts it is assembled from below.
;; NMAX happens to be a multiple of 16 (347 vectors). Per i32 lane, over a chunk:
;;   vs1    <= 347 * 4*255                    ~ 354 k
;;   vs1acc <= 346*347/2 * 4*255              ~ 61 M
;;   vs2    <= 347 * 255*(16+15+8+7)          ~ 4 M
;; all far below 2^31, so the signed i32 lanes never wrap. The per-chunk fold
;; into b (which adds 16 * hsum(vs1acc), up to ~3.9 G) is done in i64.
;;
;; One vector per loop iteration: unrolling 2x and 4x (with 32..1 / 64..1
;; weights, or the same body repeated) measured 10-25% slower under V8's
;; TurboFan, which spills vector registers in the larger loops.
(module
  (memory (export "memory") 1)

  ;; Sum of the four unsigned i32 lanes, as i64.
  (func $hsum (param $v v128) (result i64)
    (i64.add
      (i64.add
        (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $v)))
        (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $v))))
      (i64.add
        (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $v)))
        (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $v))))))

  (func (export "update") (param $adler i32) (param $ptr i32) (param $len i32) (result i32)
    (local $s1 i32) (local $s2 i32)
    (local $n i32) (local $end i32) (local $tailEnd i32)
    (local $v v128) (local $lo v128) (local $hi v128)
    (local $vs1 v128) (local $vs1acc v128) (local $vs2 v128)
    (local.set $s1 (i32.and (local.get $adler) (i32.const 0xffff)))
    (local.set $s2 (i32.shr_u (local.get $adler) (i32.const 16)))
    (local.set $tailEnd (i32.add (local.get $ptr) (local.get $len)))

    ;; Whole 16-byte vectors, up to NMAX bytes at a time.
    (block $chunksDone
      (loop $chunks
        (local.set $n (i32.and (i32.sub (local.get $tailEnd) (local.get $ptr)) (i32.const -16)))
        (br_if $chunksDone (i32.eqz (local.get $n)))
        (if (i32.gt_u (local.get $n) (i32.const 5552)) ;; NMAX
          (then (local.set $n (i32.const 5552))))
        (local.set $end (i32.add (local.get $ptr) (local.get $n)))
        (local.set $vs1 (v128.const i32x4 0 0 0 0))
        (local.set $vs1acc (v128.const i32x4 0 0 0 0))
        (local.set $vs2 (v128.const i32x4 0 0 0 0))

        ;; Per vector: vs1acc gathers vs1 as it was before the vector (each
        ;; earlier byte is counted 16 more times in b); vs1 gathers the bytes;
        ;; vs2 the bytes weighted 16..1 by their place in the vector (the byte
        ;; at offset k is added to b 16-k times within it). Widening to i16
        ;; once serves both: a dot product with 1s sums the bytes (cheaper on
        ;; x86 than i32x4.extadd_pairwise_i16x8_u, which V8 expands to several
        ;; instructions), dot products with the weights do b (pmaddwd).
        (loop $vectors
          (local.set $v (v128.load (local.get $ptr)))
          (local.set $vs1acc (i32x4.add (local.get $vs1acc) (local.get $vs1)))
          (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
          (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
          (local.set $vs1 (i32x4.add (local.get $vs1)
            (i32x4.dot_i16x8_s (i16x8.add (local.get $lo) (local.get $hi)) (v128.const i16x8 1 1 1 1 1 1 1 1))))
          (local.set $vs2 (i32x4.add (local.get $vs2) (i32x4.add
            (i32x4.dot_i16x8_s (local.get $lo) (v128.const i16x8 16 15 14 13 12 11 10 9))
            (i32x4.dot_i16x8_s (local.get $hi) (v128.const i16x8 8 7 6 5 4 3 2 1)))))
          (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
          (br_if $vectors (i32.lt_u (local.get $ptr) (local.get $end))))

        ;; Fold the chunk in: each of its n bytes adds the incoming a to b once;
        ;; each vector adds the chunk's bytes before it 16 times (vs1acc).
        (local.set $s2 (i32.wrap_i64 (i64.rem_u
          (i64.add
            (i64.add
              (i64.extend_i32_u (local.get $s2))
              (i64.mul (i64.extend_i32_u (local.get $n)) (i64.extend_i32_u (local.get $s1))))
            (i64.add
              (i64.shl (call $hsum (local.get $vs1acc)) (i64.const 4))
              (call $hsum (local.get $vs2))))
          (i64.const 65521))))
        (local.set $s1 (i32.wrap_i64 (i64.rem_u
          (i64.add (i64.extend_i32_u (local.get $s1)) (call $hsum (local.get $vs1)))
          (i64.const 65521))))
        (br $chunks)))

    ;; The last 0..15 bytes, one by one; at most 15 steps, so one modulo at the end suffices.
    (block $tailDone
      (br_if $tailDone (i32.ge_u (local.get $ptr) (local.get $tailEnd)))
      (loop $tail
        (local.set $s1 (i32.add (local.get $s1) (i32.load8_u (local.get $ptr))))
        (local.set $s2 (i32.add (local.get $s2) (local.get $s1)))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br_if $tail (i32.lt_u (local.get $ptr) (local.get $tailEnd)))))
    (local.set $s1 (i32.rem_u (local.get $s1) (i32.const 65521)))
    (local.set $s2 (i32.rem_u (local.get $s2) (i32.const 65521)))
    (i32.or (i32.shl (local.get $s2) (i32.const 16)) (local.get $s1))))
