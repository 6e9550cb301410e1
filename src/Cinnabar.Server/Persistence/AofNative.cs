using System.Runtime.InteropServices;

namespace Cinnabar.Server.Persistence;

/// <summary>
/// The few file system calls the AOF needs with Redis's semantics: O_APPEND writes that report short writes
/// and errno, fdatasync/fsync, ftruncate, and a directory fsync after renames. FileStream hides errno and
/// buffers; the AOF must know exactly what reached the kernel.
/// </summary>
static unsafe class AofNative
{
    public const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_TRUNC = 0x200, O_APPEND = 0x400, O_CLOEXEC = 0x80000;
    public const int EINTR = 4, ENOSPC = 28, EBADF = 9, EINVAL = 22;

    [DllImport("libc", SetLastError = true, EntryPoint = "open")]
    static extern int open_([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);
    [DllImport("libc", SetLastError = true)] public static extern nint write(int fd, byte* buf, nint count);
    [DllImport("libc", SetLastError = true)] public static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] public static extern int fsync(int fd);
    [DllImport("libc", SetLastError = true)] public static extern int fdatasync(int fd);
    [DllImport("libc", SetLastError = true)] public static extern int ftruncate(int fd, long length);

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>strerror(errno), the text Redis puts in its logs and MISCONF replies.</summary>
    public static string StrError(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    public static int Open(string path, int flags, int mode = 420 /* 0644 */) => open_(path, flags | O_CLOEXEC, mode);

    /// <summary>Writes all bytes unless an error stops it; returns bytes written, or -1 (errno set) if none were.</summary>
    public static long WriteAll(int fd, ReadOnlySpan<byte> data, out int errno)
    {
        errno = 0;
        long total = 0;
        fixed (byte* p = data)
        {
            while (total < data.Length)
            {
                nint n = write(fd, p + total, (nint)(data.Length - total));
                if (n < 0)
                {
                    int e = Errno;
                    if (e == EINTR) continue;
                    errno = e;
                    return total == 0 ? -1 : total;
                }
                total += n;
            }
        }
        return total;
    }

    /// <summary>fsyncFileDir: makes a rename or a new file in the directory durable.</summary>
    public static int FsyncDir(string dir)
    {
        int fd = Open(dir, O_RDONLY);
        if (fd < 0) return -1;
        int r = fsync(fd);
        close(fd);
        return r;
    }

    /// <summary>Writes a whole file through a temp name, fsyncs it, renames it over the target and fsyncs the directory.</summary>
    public static string WriteFileAtomically(string dir, string tempName, string name, ReadOnlySpan<byte> data)
    {
        string temp = Path.Combine(dir, tempName);
        int fd = Open(temp, O_WRONLY | O_CREAT | O_TRUNC);
        if (fd < 0) return $"Can't open the AOF manifest file {tempName}: {StrError(Errno)}";
        try
        {
            if (WriteAll(fd, data, out int e) != data.Length)
                return $"Error trying to write the temporary AOF manifest file {tempName}: {StrError(e == 0 ? ENOSPC : e)}";
            if (fsync(fd) < 0) return $"Fail to fsync the temp AOF file {tempName}: {StrError(Errno)}.";
        }
        finally { close(fd); }
        try { File.Move(temp, Path.Combine(dir, name), overwrite: true); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"Error trying to rename the temporary AOF manifest file {tempName} into {name}: {ex.Message}";
        }
        if (FsyncDir(dir) < 0) return $"Fail to fsync AOF directory {Path.Combine(dir, name)}: {StrError(Errno)}.";
        return null;
    }
}
