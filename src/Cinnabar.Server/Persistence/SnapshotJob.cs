using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Persistence;

/// <summary>How a snapshot turns keys into bytes: an RDB file, or AOF commands (a BASE without the preamble).</summary>
public interface ISnapshotEncoder
{
    /// <summary>The next keys belong to this db: <paramref name="first"/> the first time the db appears.</summary>
    void SelectDb(int dbId, bool first, int keys, int expires);
    void WriteKey(in KeyTable.Entry entry);
    /// <summary>After the last key (RDB: EOF and the checksum).</summary>
    void Finish();
    int BufferedBytes { get; }
    /// <summary>Hands the buffered bytes on and empties the buffer.</summary>
    void Drain(Action<ReadOnlySpan<byte>> sink);
}

/// <summary>RDB encoding: dump.rdb, an RDB-preamble AOF BASE, a replica's full sync.</summary>
public sealed class RdbSnapshotEncoder(RdbWriter writer, bool saveLruIdle = false, bool saveLfuFreq = false, int lfuDecayTime = 1) : ISnapshotEncoder
{
    public void SelectDb(int dbId, bool first, int keys, int expires)
    {
        if (first) writer.WriteSelectDb(dbId, keys, expires);
        else writer.WriteSelectDbOnly(dbId);
    }

    public void WriteKey(in KeyTable.Entry entry)
    {
        long idle = saveLruIdle ? Lfu.LruIdleMs(entry.Access) / 1000 : -1;
        int freq = saveLfuFreq ? Lfu.Counter(entry.Access, lfuDecayTime) : -1;
        writer.WriteKey(entry.Key, entry.Value, entry.ExpireAt, idle, freq);
    }

    public void Finish() => writer.Finish();
    public int BufferedBytes => writer.Buffer.Length;
    public void Drain(Action<ReadOnlySpan<byte>> sink) => writer.Drain(sink);
}

/// <summary>
/// What Redis forks a child for (BGSAVE, an AOF base, a replica's full sync): the keyspace as it was when the
/// job started, encoded by an <see cref="ISnapshotEncoder"/>, while the server keeps serving writes.
///
/// The event-loop thread encodes keys (it owns them; see <see cref="KeyspaceSnapshot"/> for how a key about
/// to change is encoded first), in slices between client work, and hands the bytes in chunks to a writer
/// thread that alone touches the output: a slow or failing disk never stalls the loop. When the writer falls
/// more than <see cref="MaxPendingBytes"/> behind, the loop stops encoding (keys copied because a client
/// wrote to them still are), so memory stays bounded by the write rate, not the dataset.
/// </summary>
public sealed class SnapshotJob : KeyspaceSnapshot.ISink
{
    public const int MaxPendingBytes = 32 << 20;
    const int ChunkBytes = 256 << 10;

    readonly ISnapshotEncoder encoder;
    readonly KeyspaceSnapshot snapshot;
    readonly (int keys, int expires)[] sizes;
    readonly bool[] dbStarted;
    readonly long keySaveDelayTicks;
    int currentDb = -1;
    bool encodingDone;

    readonly BlockingCollection<(byte[] chunk, int length)> chunks = new();
    long pendingBytes;
    readonly Thread thread;
    readonly Stream output;
    readonly Action<Stream> complete;
    volatile bool cancelled;
    volatile Exception failure;
    volatile bool writerDone;

    public readonly long StartTicks = Stopwatch.GetTimestamp();
    public long KeysTotal { get; }
    public long KeysProcessed => snapshot.KeysSaved;

    /// <param name="dbs">The databases to copy.</param>
    /// <param name="encoder">Turns keys into bytes; whatever comes before the keys is already in it.</param>
    /// <param name="output">Where the bytes go; written only by the job's thread.</param>
    /// <param name="complete">Runs on the job's thread after the last byte (flush, fsync, rename).</param>
    /// <param name="keySaveDelayMicros">rdb-key-save-delay: meter keys out (a testing knob).</param>
    public SnapshotJob(Db[] dbs, ISnapshotEncoder encoder, Stream output, Action<Stream> complete, string threadName, int keySaveDelayMicros = 0)
    {
        keySaveDelayTicks = keySaveDelayMicros > 0 ? keySaveDelayMicros * Stopwatch.Frequency / 1_000_000 : 0;
        this.encoder = encoder;
        this.output = output;
        this.complete = complete;
        snapshot = new KeyspaceSnapshot(dbs, this);
        sizes = snapshot.Sizes;
        dbStarted = new bool[sizes.Length];
        foreach (var (keys, _) in sizes) KeysTotal += keys;
        thread = new Thread(WriteLoop) { IsBackground = true, Name = threadName };
        thread.Start();
    }

    /// <summary>True once every byte is out and <c>complete</c> has run (check <see cref="Failure"/>).</summary>
    public bool Finished => writerDone;
    public Exception Failure => failure;
    public bool NeedsLoopTime => !encodingDone && failure == null;

    /// <summary>The writer is <see cref="MaxPendingBytes"/> behind: encoding waits for it (the loop need not spin).</summary>
    public bool WriterBehind => Volatile.Read(ref pendingBytes) >= MaxPendingBytes;

    /// <summary>Optional: called on the writer thread when it caught up after <see cref="WriterBehind"/> (to wake the loop).</summary>
    public Action WriterCaughtUp;

    public void Save(int dbId, in KeyTable.Entry entry)
    {
        if (dbId != currentDb)
        {
            encoder.SelectDb(dbId, !dbStarted[dbId], sizes[dbId].keys, sizes[dbId].expires);
            dbStarted[dbId] = true;
            currentDb = dbId;
        }
        encoder.WriteKey(in entry);
        if (encoder.BufferedBytes >= ChunkBytes) HandOff();
    }

    /// <summary>Encodes more keys until the deadline (Stopwatch ticks); false while there is more to do.</summary>
    public bool Step(long deadlineTicks)
    {
        if (encodingDone) return true;
        if (failure != null) return true;
        while (Volatile.Read(ref pendingBytes) < MaxPendingBytes)
        {
            int slots = 64;
            if (keySaveDelayTicks > 0)
            {
                // rdb-key-save-delay (a testing knob): Redis's child sleeps per key; here keys are metered out.
                long allowed = (Stopwatch.GetTimestamp() - StartTicks) / keySaveDelayTicks + 1 - snapshot.KeysSaved;
                if (allowed <= 0) break;
                slots = (int)Math.Min(slots, allowed);
            }
            if (snapshot.Step(slots))
            {
                encoder.Finish();
                HandOff();
                encodingDone = true;
                chunks.CompleteAdding();
                return true;
            }
            if (Stopwatch.GetTimestamp() >= deadlineTicks) break;
        }
        return false;
    }

    void HandOff()
    {
        encoder.Drain(span =>
        {
            var chunk = ArrayPool<byte>.Shared.Rent(span.Length);
            span.CopyTo(chunk);
            Interlocked.Add(ref pendingBytes, span.Length);
            if (!chunks.IsAddingCompleted) chunks.Add((chunk, span.Length));
        });
    }

    void WriteLoop()
    {
        try
        {
            foreach (var (chunk, length) in chunks.GetConsumingEnumerable())
            {
                try
                {
                    if (!cancelled && failure == null) output.Write(chunk, 0, length);
                }
                finally
                {
                    long left = Interlocked.Add(ref pendingBytes, -length);
                    ArrayPool<byte>.Shared.Return(chunk);
                    if (left < MaxPendingBytes && left + length >= MaxPendingBytes) WriterCaughtUp?.Invoke();
                }
            }
            if (!cancelled && failure == null) complete(output);
        }
        catch (Exception e)
        {
            failure = e;
            // Keep consuming so the loop never waits on a full queue of a dead writer.
            foreach (var (chunk, _) in chunks.GetConsumingEnumerable()) ArrayPool<byte>.Shared.Return(chunk);
        }
        finally
        {
            try { output.Dispose(); } catch (IOException) { }
            writerDone = true;
        }
    }

    /// <summary>
    /// Stops the job (SHUTDOWN, FLUSHALL, a failed write): releases the keyspace at once and waits for the
    /// writer thread to let go of the output.
    /// </summary>
    public void Cancel()
    {
        cancelled = true;
        if (!encodingDone)
        {
            snapshot.Abort();
            encodingDone = true;
            chunks.CompleteAdding();
        }
        thread.Join();
    }

    /// <summary>After a failure seen by the loop: the keyspace is released and the writer thread ends.</summary>
    public void ReleaseAfterFailure()
    {
        if (!encodingDone)
        {
            snapshot.Abort();
            encodingDone = true;
            chunks.CompleteAdding();
        }
    }
}
